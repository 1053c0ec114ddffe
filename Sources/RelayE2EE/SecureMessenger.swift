import Foundation
import RelayClient
import RelayCore
import Signal
import SwiftProtobuf
import Synchronization

/// End-to-end encryption with the Signal protocol on top of `RelayClient`
/// (docs/e2ee.md): keys published and replenished, X3DH sessions from
/// `keys.fetch` bundles, the Double Ratchet per device pair, Sender Keys
/// per group (distributed over the pairwise sessions, rotated after a
/// member leaves), retry requests when a message cannot be decrypted.
///
/// A send encrypts for every device of the recipients that this device
/// knows, its own other devices included; a device it does not know yet
/// gets a "no copy" frame and asks for the message again (`open` answers
/// such requests). The app feeds every `Delivery` to `open(_:)` and every
/// `Event` to `handle(_:)`.
public final class SecureMessenger: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// One-time prekeys per upload (first run and on `prekeys_low`).
        public var preKeyBatch = 100
        /// A signed prekey older than this is replaced at `start`.
        public var signedPreKeyLifetime: TimeInterval = 7 * 24 * 3600
        /// Sent messages kept to answer retry requests.
        public var outboxLimit = 64
        /// Resends of one message at most.
        public var maximumResends = 3
        /// Encoded bytes per `Send` at most (the relay refuses a `Send` over its `maxSendBytes`,
        /// 64 KiB by default); a group's sender key distribution beyond it goes in Sends of its own.
        public var maximumSendBytes = 56 * 1024

        /// Defaults.
        public init() {}
    }

    /// What `open(_:)` made of a delivery.
    public enum Incoming: Sendable, Equatable {
        /// A message: the application's bytes; `resendOf` is the client
        /// message id it was first sent under when this is a resend.
        case message(Data, resendOf: String?)
        /// A message with a file (docs/media.md): the pointer to fetch and
        /// open it with, and the application's bytes beside it (a caption).
        case attachment(Relay_E2ee_V1_AttachmentPointer, caption: Data)
        /// A membership change of a group (not encrypted).
        case membership(Relay_V1_MembershipEvent)
        /// A device asked for a message again and it was sent again (`<id>.r<n>`).
        case resent(conversation: String, clientMessageID: String, to: String)
        /// Nothing for the app: a frame for other devices, a duplicate, a retry request for a message no longer kept.
        case control
        /// Could not be decrypted; `retryRequested` when the sender was asked to send it again.
        case failed(SecureMessengerError, retryRequested: Bool)
    }

    /// The connection.
    public let client: RelayClient
    /// The Signal protocol over this device's stores.
    public let signal: SignalProtocol
    /// The stores (identity trust lives here).
    public let store: SignalRecordStore
    /// Settings.
    public let configuration: Configuration
    /// This device.
    public let user: String
    /// This device's id.
    public let device: String
    /// This device's Signal address.
    public let address: SignalAddress

    private let state: Mutex<MessengerState>

    /// A messenger for `client`'s device over `store`; creates the identity on first use.
    public init(client: RelayClient, store: SignalRecordStore, configuration: Configuration = Configuration()) throws {
        self.client = client
        self.store = store
        self.configuration = configuration
        user = client.configuration.user
        device = client.configuration.device
        address = SignalAddressing.address(user: user, device: device)
        signal = try SignalProtocol(store: store)
        if try store.localIdentity() == nil { try signal.createIdentity() }
        state = Mutex(try MessengerState.load(from: store.storage))
    }

    /// A messenger whose state lives in `directory` (mode 0700, files 0600).
    public convenience init(client: RelayClient, stateDirectory directory: URL,
                            policy: SignalRecordStore.TrustPolicy = .refuseChanged,
                            configuration: Configuration = Configuration()) throws {
        let storage = try DirectoryRecordStorage(directory: directory)
        try self.init(client: client, store: SignalRecordStore(storage: storage, policy: policy), configuration: configuration)
    }

    private func update<T>(_ body: (inout MessengerState) throws -> T) throws -> T {
        try state.withLock { state in
            var copy = state
            let result = try body(&copy)
            if copy != state {
                try copy.save(to: store.storage)
                state = copy
            }
            return result
        }
    }

    private var snapshot: MessengerState { state.withLock { $0 } }

    // MARK: - Keys

    /// First run: uploads identity, signed prekey, one-time prekeys and the
    /// last-resort prekey. Later runs: replaces the signed prekey when it is
    /// older than `signedPreKeyLifetime`. Call after `client.connect()`.
    public func start(now: Date = Date()) async throws {
        let current = snapshot
        let ageMs = UInt64(max(0, now.timeIntervalSince1970 * 1000)) &- current.signedPreKeyCreatedMs
        if !current.keysUploaded {
            try await upload(rotateSignedPreKey: true, oneTime: configuration.preKeyBatch, lastResort: true, now: now)
        } else if Double(ageMs) / 1000 > configuration.signedPreKeyLifetime {
            try await upload(rotateSignedPreKey: true, oneTime: 0, lastResort: false, now: now)
        }
    }

    /// Uploads `oneTime` new one-time prekeys (`prekeys_low`).
    public func replenishPreKeys() async throws {
        try await upload(rotateSignedPreKey: false, oneTime: configuration.preKeyBatch, lastResort: false, now: Date())
    }

    private func upload(rotateSignedPreKey: Bool, oneTime: Int, lastResort: Bool, now: Date) async throws {
        guard let identity = try store.localIdentity() else { throw SecureMessengerError.state("no identity") }
        var current = snapshot
        let nowMs = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let signed: PublicSignedPreKey
        if rotateSignedPreKey || current.signedPreKeyID == 0 {
            let id = current.signedPreKeyID % 0xFF_FFFE + 1
            signed = try signal.generateSignedPreKey(id: id, timestampMs: nowMs)
        } else if let existing = try signal.signedPreKey(id: current.signedPreKeyID) {
            signed = existing
        } else {
            throw SecureMessengerError.state("signed prekey \(current.signedPreKeyID) is missing")
        }
        let preKeys = oneTime > 0 ? try signal.generatePreKeys(start: current.nextPreKeyID, count: oneTime) : []
        var upload = Relay_V1_KeysUpload()
        upload.identityKey = identity.publicKey.serialized
        upload.registrationID = identity.registrationID
        upload.deviceID = UInt32(address.deviceID)
        upload.signedPrekey.id = signed.id
        upload.signedPrekey.publicKey = signed.publicKey.serialized
        upload.signedPrekey.signature = signed.signature
        upload.oneTimePrekeys = preKeys.map { key in
            var prekey = Relay_V1_OneTimePrekey()
            prekey.id = key.id
            prekey.publicKey = key.publicKey.serialized
            return prekey
        }
        if lastResort {
            let key = try signal.generatePreKey(id: SignalRecordStore.lastResortPreKeyID)
            upload.lastResortPrekey.id = key.id
            upload.lastResortPrekey.publicKey = key.publicKey.serialized
        }
        var request = Relay_V1_Request()
        request.keysUpload = upload
        try await ask(RequestMethod.keysUpload, request)
        current = try update { state in
            state.keysUploaded = true
            state.nextPreKeyID = (state.nextPreKeyID &+ UInt32(oneTime) &- 1) % 0xFF_FFFE + 1
            if signed.id != state.signedPreKeyID {
                state.signedPreKeyID = signed.id
                state.signedPreKeyCreatedMs = nowMs
            }
            return state
        }
        // Keep the previous signed prekey (sessions being set up may still name it); drop older ones.
        let previous = (current.signedPreKeyID + 0xFF_FFFE - 2) % 0xFF_FFFE + 1
        for id in try store.signedPreKeyIDs() where id != current.signedPreKeyID && id != previous {
            try store.removeSignedPreKey(id)
        }
    }

    /// Handles an `Event`: `prekeys_low` uploads more one-time prekeys; a
    /// membership change updates the group's members (a member leaving makes
    /// this device's sender key rotate); this user's device removed makes
    /// every group's sender key rotate.
    public func handle(_ event: Relay_V1_Event) async throws {
        switch event.event {
        case .prekeysLow?:
            try await replenishPreKeys()
        case .membership(let membership)?:
            if let change = Self.change(membership) {
                try update { $0.apply(change, group: membership.conversation) }
            }
        case .deviceRemoved(let removed)?:
            try update { state in
                state.devices[user]?.removeAll { $0 == removed.device }
                for group in state.groups.keys { state.groups[group]?.rotate = true }
            }
        default:
            break
        }
    }

    /// Takes in a group's member list from a group answer (`group.create`, `group.add`, ...).
    public func noteGroup(_ info: Relay_V1_GroupInfo) throws {
        try update { $0.apply(.members(Set(info.members)), group: info.conversation) }
    }

    // MARK: - Trust

    /// The 60-digit safety number of this user and `peer`, over the identity
    /// keys known of both (this device's and this user's other devices', and `peer`'s).
    public func safetyNumber(with peer: String) async throws -> String {
        if try store.identities(of: peer).isEmpty { _ = try await fetchSessions(of: peer, refreshing: []) }
        guard let identity = try store.localIdentity() else { throw SecureMessengerError.state("no identity") }
        let mine = try [identity.publicKey] + store.identities(of: user).values
        let theirs = try Array(store.identities(of: peer).values)
        guard !theirs.isEmpty else { throw SecureMessengerError.noKeys(user: peer) }
        return try signal.safetyNumber(local: user, localKeys: mine, remote: peer, remoteKeys: theirs)
    }

    /// Accepts `peer`'s changed identity keys; returns the devices accepted.
    @discardableResult
    public func trust(_ peer: String) throws -> [SignalAddress] {
        try store.acceptIdentityChange(of: peer)
    }

    // MARK: - Sending

    /// Sends `body` to `peer` in their 1:1 conversation: one pairwise
    /// ciphertext per device of `peer` and of this user's other devices.
    @discardableResult
    public func send(_ body: Data, attachment: Relay_E2ee_V1_AttachmentPointer? = nil, to peer: String) async throws -> SendReceipt {
        guard let me = UserID(rawValue: user), let them = UserID(rawValue: peer) else {
            throw RelayClientError.invalidConversation(peer)
        }
        let conversation = ConversationID.direct(me, them).rawValue
        var content = Relay_E2ee_V1_Content()
        content.body = body
        if let attachment { content.attachment = attachment }
        let targets = try await devices(of: Set([peer, user]))
        var perDevice: [String: Data] = [:]
        for (peerUser, peerDevice) in targets {
            perDevice[peerDevice] = try await pairwise(content, to: peerUser, device: peerDevice)
        }
        let receipt = try await client.send(conversation: conversation, ciphertext: E2EEFrame.noCopy.bytes, deviceCiphertexts: perDevice)
        try remember(conversation: conversation, clientMessageID: receipt.clientMessageID, body: body)
        return receipt
    }

    /// Sends `body` to `group` under this device's sender key: one sender
    /// key ciphertext for all, and, for each member device that does not
    /// have the current sender key yet, a pairwise message carrying the
    /// distribution and the same ciphertext. A member that left since the
    /// last send makes a new sender key first.
    @discardableResult
    public func send(_ body: Data, attachment: Relay_E2ee_V1_AttachmentPointer? = nil, toGroup group: String) async throws -> SendReceipt {
        let name = SenderKeyName(groupID: group, sender: address)
        let rotate = try update { state -> Bool in
            guard state.groups[group]?.rotate == true else { return false }
            state.groups[group]?.rotate = false
            state.groups[group]?.distributedTo = []
            return true
        }
        if rotate { try store.deleteSenderKey(for: name) }
        let distribution = try signal.senderKeyDistribution(for: name)
        var content = Relay_E2ee_V1_Content()
        content.body = body
        if let attachment { content.attachment = attachment }
        let groupMessage = try signal.groupEncrypt(content.serializedData(), for: name)
        let current = snapshot.groups[group] ?? MessengerState.GroupState()
        let targets = try await devices(of: Set(current.members).union([user]))
        let missing = targets.filter { !current.distributedTo.contains($0.user + "/" + $0.device) }
        var carrier = Relay_E2ee_V1_Content()
        carrier.senderKeyDistribution = distribution
        carrier.groupMessage = groupMessage
        let shared = E2EEFrame.signal(SignalCiphertext(kind: .senderKey, body: groupMessage)).bytes
        var perDevice: [String: Data] = [:]
        // The Send's size so far: the rest of a Send, the shared ciphertext (tag, length, bytes), the entries.
        var sendBytes = SendBatches.reserve + shared.count + 5
        for (peerUser, peerDevice) in missing {
            let frame = try await pairwise(carrier, to: peerUser, device: peerDevice)
            perDevice[peerDevice] = frame
            sendBytes += SendBatches.entryBytes(device: peerDevice, ciphertext: frame)
            if sendBytes > configuration.maximumSendBytes { break }
        }
        if sendBytes > configuration.maximumSendBytes {
            // Too big for one Send (a large group's first message under a new sender key):
            // the distribution alone goes ahead, pairwise, in Sends of its own (sequenced
            // before the message, so read first), and the message is one sender key
            // ciphertext for all. The pairwise messages made so far are dropped; their
            // receivers only see a gap in the chain (skipped message keys are kept).
            perDevice = [:]
            try await distributeInBatches(distribution, to: missing, group: group)
        }
        let receipt = try await client.send(conversation: group, ciphertext: shared, deviceCiphertexts: perDevice)
        try update { state in
            var groupState = state.groups[group] ?? MessengerState.GroupState()
            groupState.distributedTo = Array(Set(groupState.distributedTo).union(missing.map { $0.user + "/" + $0.device })).sorted()
            state.groups[group] = groupState
        }
        try remember(conversation: group, clientMessageID: receipt.clientMessageID, body: body)
        return receipt
    }

    /// Sends `distribution` pairwise to `devices` in `group`, in as many Sends
    /// (shared ciphertext "not for you") as `maximumSendBytes` needs (`SendBatches`).
    private func distributeInBatches(_ distribution: Data, to devices: [(user: String, device: String)], group: String) async throws {
        var carrier = Relay_E2ee_V1_Content()
        carrier.senderKeyDistribution = distribution
        var entries: [(device: String, ciphertext: Data)] = []
        for (peerUser, peerDevice) in devices {
            entries.append((peerDevice, try await pairwise(carrier, to: peerUser, device: peerDevice)))
        }
        for batch in SendBatches.split(entries, limit: configuration.maximumSendBytes) {
            _ = try await client.send(conversation: group, ciphertext: E2EEFrame.notForYou.bytes, deviceCiphertexts: batch)
        }
    }

    /// How a membership event changes the member list.
    static func change(_ event: Relay_V1_MembershipEvent) -> MembershipChange? {
        let users = Set(event.users)
        return switch event.change {
        case .created: .members(users.union([event.actor]))
        case .added: .added(users)
        case .removed: .removed(users)
        case .left: .removed(users.isEmpty ? [event.actor] : users)
        default: nil
        }
    }

    private func remember(conversation: String, clientMessageID: String, body: Data) throws {
        try update { state in
            state.remember(.init(conversation: conversation, clientMessageID: clientMessageID, body: body), limit: configuration.outboxLimit)
        }
    }

    /// The devices (but this one) of `users`, fetching the keys of users not seen before.
    private func devices(of users: Set<String>) async throws -> [(user: String, device: String)] {
        var result: [(user: String, device: String)] = []
        for peer in users.sorted() {
            var known = snapshot.devices[peer]
            if known == nil || (known?.isEmpty == true && peer != user) {
                known = try await fetchSessions(of: peer, refreshing: [])
            }
            for peerDevice in known ?? [] where !(peer == user && peerDevice == device) {
                result.append((peer, peerDevice))
            }
        }
        return result
    }

    /// Encrypts `content` for one device, building the session from a fresh bundle when there is none.
    private func pairwise(_ content: Relay_E2ee_V1_Content, to peer: String, device peerDevice: String) async throws -> Data {
        let peerAddress = SignalAddressing.address(user: peer, device: peerDevice)
        if try !signal.hasSession(with: peerAddress) {
            _ = try await fetchSessions(of: peer, refreshing: [peerDevice])
            guard try signal.hasSession(with: peerAddress) else { throw SecureMessengerError.noKeys(user: peer) }
        }
        return E2EEFrame.signal(try signal.encrypt(content.serializedData(), for: peerAddress)).bytes
    }

    /// `keys.fetch` of `peer`: builds a session with every device that has
    /// none (and with the devices in `refreshing` anyway); returns and
    /// remembers the devices. A changed identity is refused
    /// (`untrustedIdentity`) unless the trust policy accepts it.
    private func fetchSessions(of peer: String, refreshing: Set<String>) async throws -> [String] {
        var request = Relay_V1_Request()
        request.keysFetch.user = peer
        let response = try await client.request(RequestMethod.keysFetch.rawValue, request)
        if response.hasError {
            if response.error.code == "not_found" {
                try update { $0.learn([], of: peer) }
                if peer == user { return [] }
                throw SecureMessengerError.noKeys(user: peer)
            }
            throw SecureMessengerError.relay(code: response.error.code, message: response.error.message)
        }
        var devices: [String] = []
        var untrusted = false
        for bundle in response.keyBundles.bundles where !(peer == user && bundle.device == device) {
            guard let parsed = try? Self.preKeyBundle(bundle) else { continue }  // a malformed bundle: that device is skipped
            let peerAddress = SignalAddressing.address(user: peer, device: bundle.device)
            do {
                if try refreshing.contains(bundle.device) || !signal.hasSession(with: peerAddress) {
                    try signal.processBundle(parsed, for: peerAddress)
                }
                devices.append(bundle.device)
            } catch let error as SignalError where error.code == .untrustedIdentity {
                untrusted = true
            }
        }
        try update { $0.learn(devices, of: peer) }
        if untrusted { throw SecureMessengerError.untrustedIdentity(user: peer) }
        return snapshot.devices[peer] ?? devices
    }

    /// A `KeyBundle` as the Signal library takes it (the one-time prekey, else the last-resort one).
    static func preKeyBundle(_ bundle: Relay_V1_KeyBundle) throws -> PreKeyBundle {
        let oneTime = bundle.hasOneTimePrekey ? bundle.oneTimePrekey : bundle.hasLastResortPrekey ? bundle.lastResortPrekey : nil
        let preKey = try oneTime.map { PublicPreKey(id: $0.id, publicKey: try SignalPublicKey(serialized: $0.publicKey)) }
        let signed = PublicSignedPreKey(id: bundle.signedPrekey.id, publicKey: try SignalPublicKey(serialized: bundle.signedPrekey.publicKey),
                                        signature: bundle.signedPrekey.signature, timestampMs: 0)
        guard let deviceID = Int32(exactly: bundle.deviceID), deviceID > 0 else { throw SecureMessengerError.malformedFrame }
        return PreKeyBundle(registrationID: bundle.registrationID, deviceID: deviceID, preKey: preKey, signedPreKey: signed,
                            identityKey: try SignalPublicKey(serialized: bundle.identityKey))
    }

    private func ask(_ method: RequestMethod, _ request: Relay_V1_Request) async throws {
        let response = try await client.request(method.rawValue, request)
        if response.hasError { throw SecureMessengerError.relay(code: response.error.code, message: response.error.message) }
    }

    // MARK: - Receiving

    /// Opens a delivery: decrypts it, takes in sender keys, answers retry
    /// requests, tracks group membership, and asks the sender to send again
    /// when a message cannot be decrypted (not for duplicates, nor while
    /// the sender's identity is not trusted).
    public func open(_ delivery: Relay_V1_Delivery) async -> Incoming {
        if delivery.hasMembership {
            let event = delivery.membership
            if let change = Self.change(event) { try? update { $0.apply(change, group: delivery.conversation) } }
            return .membership(event)
        }
        guard !(delivery.fromUser == user && delivery.fromDevice == device) else { return .control }
        let sender = SignalAddressing.address(user: delivery.fromUser, device: delivery.fromDevice)
        guard let frame = E2EEFrame(delivery.ciphertext) else {
            return .failed(.malformedFrame, retryRequested: await requestRetry(delivery, resetSession: false))
        }
        do {
            let content: Relay_E2ee_V1_Content
            switch frame {
            case .notForYou:
                return .control
            case .noCopy:
                return .failed(.malformedFrame, retryRequested: await requestRetry(delivery, resetSession: false))
            case .signal(let ciphertext) where ciphertext.kind == .senderKey:
                let name = SenderKeyName(groupID: delivery.conversation, sender: sender)
                content = try Relay_E2ee_V1_Content(serializedBytes: signal.groupDecrypt(ciphertext.body, from: name))
            case .signal(let ciphertext):
                let outer = try Relay_E2ee_V1_Content(serializedBytes: signal.decrypt(ciphertext, from: sender))
                try update { $0.learn([delivery.fromDevice], of: delivery.fromUser) }
                if outer.hasRetryRequest {
                    let answered = await answerRetry(outer.retryRequest, from: delivery.fromUser, device: delivery.fromDevice)
                    return answered ? .resent(conversation: outer.retryRequest.conversation,
                                              clientMessageID: outer.retryRequest.clientMessageID, to: delivery.fromDevice) : .control
                }
                if !outer.senderKeyDistribution.isEmpty {
                    let name = SenderKeyName(groupID: delivery.conversation, sender: sender)
                    try signal.processSenderKeyDistribution(outer.senderKeyDistribution, for: name)
                    guard !outer.groupMessage.isEmpty else {
                        return outer.body.isEmpty ? .control : .message(outer.body, resendOf: outer.resendOf.isEmpty ? nil : outer.resendOf)
                    }
                    content = try Relay_E2ee_V1_Content(serializedBytes: signal.groupDecrypt(outer.groupMessage, from: name))
                } else {
                    content = outer
                }
            }
            if content.hasAttachment { return .attachment(content.attachment, caption: content.body) }
            return .message(content.body, resendOf: content.resendOf.isEmpty ? nil : content.resendOf)
        } catch let error as SignalError {
            switch error.code {
            case .duplicateMessage:
                return .control
            case .untrustedIdentity:
                return .failed(.untrustedIdentity(user: delivery.fromUser), retryRequested: false)
            default:
                let pairwise = if case .signal(let c) = frame { c.kind != .senderKey } else { false }
                return .failed(.signal(error), retryRequested: await requestRetry(delivery, resetSession: pairwise))
            }
        } catch {
            return .failed(.malformedFrame, retryRequested: false)
        }
    }

    /// Asks the sender's device to send `delivery` again, in a fresh session
    /// when `resetSession` (the old one is broken); false when that failed.
    private func requestRetry(_ delivery: Relay_V1_Delivery, resetSession: Bool) async -> Bool {
        do {
            let sender = SignalAddressing.address(user: delivery.fromUser, device: delivery.fromDevice)
            if resetSession { try signal.deleteSession(with: sender) }
            var content = Relay_E2ee_V1_Content()
            content.retryRequest.conversation = delivery.conversation
            content.retryRequest.clientMessageID = try await clientMessageID(of: delivery)
            let frame = try await pairwise(content, to: delivery.fromUser, device: delivery.fromDevice)
            _ = try await client.send(conversation: delivery.conversation, ciphertext: E2EEFrame.notForYou.bytes,
                                      deviceCiphertexts: [delivery.fromDevice: frame])
            return true
        } catch {
            return false
        }
    }

    /// The sender's client message id of `delivery`: a compact delivery from
    /// another user leaves it out (docs/protocol.md, "Compact deliveries"),
    /// and `history.sync` has it.
    private func clientMessageID(of delivery: Relay_V1_Delivery) async throws -> String {
        guard delivery.clientMessageID.isEmpty, delivery.seq > 0 else { return delivery.clientMessageID }
        let page = try await client.history(conversation: delivery.conversation, after: delivery.seq - 1, limit: 1)
        guard let full = page.messages.first(where: { $0.seq == delivery.seq }), !full.clientMessageID.isEmpty else {
            throw SecureMessengerError.malformedFrame
        }
        return full.clientMessageID
    }

    /// Sends a remembered message again to the one device that asked,
    /// under a derived client message id (`<id>.r<n>`; the relay stores a
    /// retried id once), with this device's sender key when it is a group.
    private func answerRetry(_ retry: Relay_E2ee_V1_RetryRequest, from peer: String, device peerDevice: String) async -> Bool {
        do {
            let resend = try update { state -> MessengerState.SentMessage? in
                guard let index = state.outbox.firstIndex(where: {
                    $0.conversation == retry.conversation && $0.clientMessageID == retry.clientMessageID
                }), state.outbox[index].resends < configuration.maximumResends else { return nil }
                state.outbox[index].resends += 1
                return state.outbox[index]
            }
            guard let resend else { return false }
            var content = Relay_E2ee_V1_Content()
            content.body = resend.body
            content.resendOf = resend.clientMessageID
            let isGroup = ConversationID(rawValue: resend.conversation)?.isGroup ?? false
            if isGroup {
                content.senderKeyDistribution = try signal.senderKeyDistribution(for: SenderKeyName(groupID: resend.conversation, sender: address))
            }
            let frame = try await pairwise(content, to: peer, device: peerDevice)
            _ = try await client.send(conversation: resend.conversation, ciphertext: E2EEFrame.notForYou.bytes,
                                      deviceCiphertexts: [peerDevice: frame],
                                      clientMessageID: "\(resend.clientMessageID).r\(resend.resends)")
            if isGroup {
                try update { state in
                    var group = state.groups[resend.conversation] ?? MessengerState.GroupState()
                    if !group.members.contains(peer) { group.members = (group.members + [peer]).sorted() }
                    group.distributedTo = Array(Set(group.distributedTo).union([peer + "/" + peerDevice])).sorted()
                    state.groups[resend.conversation] = group
                }
            }
            return true
        } catch {
            // The requester asks again on its next failure; nothing else to do here.
            return false
        }
    }
}
