import Foundation

/// A `SignalProtocolStore` over a `RecordStorage` (a state directory, or
/// memory), with the trust policy for peers' identity keys.
///
/// Record names: `identity` (this device), `peer.<name>.<device>` (a
/// peer's accepted identity key), `changed.<name>.<device>` (a new
/// identity key seen and refused, waiting for `acceptIdentityChange`),
/// `session.<name>.<device>`, `prekey.<id>`, `signed.<id>`,
/// `senderkey.<group>.<name>.<device>`; names and groups hex-encoded.
public final class SignalRecordStore: SignalProtocolStore {
    /// What to do when a peer's identity key is not the one saved for it.
    public enum TrustPolicy: Sendable {
        /// Trust on first use; a changed key is refused (no session is built
        /// with it) until `acceptIdentityChange(of:)`.
        case refuseChanged
        /// Accept a changed key (and report it in `identityChanges`).
        case acceptChanged
    }

    /// Where the records are.
    public let storage: any RecordStorage
    /// The trust policy.
    public let policy: TrustPolicy

    /// A store over `storage`.
    public init(storage: any RecordStorage, policy: TrustPolicy = .refuseChanged) {
        self.storage = storage
        self.policy = policy
    }

    static func hex(_ text: String) -> String {
        Data(text.utf8).map { String(format: "%02x", $0) }.joined()
    }

    static func unhex(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex) ?? text.endIndex
            guard let byte = UInt8(text[index ..< next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return String(bytes: bytes, encoding: .utf8)
    }

    private static func key(_ kind: String, _ address: SignalAddress) -> String {
        "\(kind).\(hex(address.name)).\(address.deviceID)"
    }

    // MARK: - Identity

    public func localIdentity() throws -> LocalIdentity? {
        guard let data = try storage.read("identity") else { return nil }
        let bytes = [UInt8](data)
        guard bytes.count > 4 + SignalPublicKey.serializedCount else {
            throw SignalError(.malformedInput, function: "SignalRecordStore.localIdentity")
        }
        let registrationID = bytes[0 ..< 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let publicKey = try SignalPublicKey(serialized: Data(bytes[4 ..< 37]))
        return LocalIdentity(privateKey: Data(bytes[37...]), publicKey: publicKey, registrationID: registrationID)
    }

    public func setLocalIdentity(_ identity: LocalIdentity) throws {
        let id = identity.registrationID
        var data = Data([UInt8(id >> 24 & 0xFF), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)])
        data.append(identity.publicKey.serialized)
        data.append(identity.privateKey)
        try storage.write(data, to: "identity")
    }

    public func identity(of address: SignalAddress) throws -> SignalPublicKey? {
        try storage.read(Self.key("peer", address)).map { try SignalPublicKey(serialized: $0) }
    }

    public func saveIdentity(_ key: SignalPublicKey?, for address: SignalAddress) throws {
        if let key {
            try storage.write(key.serialized, to: Self.key("peer", address))
        } else {
            try storage.remove(Self.key("peer", address))
        }
        try storage.remove(Self.key("changed", address))
    }

    public func isTrusted(_ key: SignalPublicKey, for address: SignalAddress) throws -> Bool {
        guard let saved = try identity(of: address), saved != key else { return true }
        // A changed identity: remembered either way so that it can be shown and accepted.
        try storage.write(key.serialized, to: Self.key("changed", address))
        return policy == .acceptChanged
    }

    /// The devices of `name` whose identity key changed and was refused (or, with `.acceptChanged`, seen changed).
    public func identityChanges(of name: String) throws -> [SignalAddress] {
        try storage.keys(withPrefix: "changed.\(Self.hex(name)).").compactMap { key in
            key.split(separator: ".").last.flatMap { Int32($0) }.map { SignalAddress(name: name, deviceID: $0) }
        }
    }

    /// Accepts the changed identity keys of `name`'s devices: they become
    /// the saved ones, and the old sessions with those devices go (the next
    /// send builds new ones). Returns the devices accepted.
    @discardableResult
    public func acceptIdentityChange(of name: String) throws -> [SignalAddress] {
        let changed = try identityChanges(of: name)
        for address in changed {
            if let key = try storage.read(Self.key("changed", address)) {
                try storage.write(key, to: Self.key("peer", address))
            }
            try storage.remove(Self.key("changed", address))
            _ = try deleteSession(for: address)
        }
        return changed
    }

    /// The saved identity keys of `name`'s devices.
    public func identities(of name: String) throws -> [SignalAddress: SignalPublicKey] {
        var result: [SignalAddress: SignalPublicKey] = [:]
        for key in try storage.keys(withPrefix: "peer.\(Self.hex(name)).") {
            guard let device = key.split(separator: ".").last.flatMap({ Int32($0) }), let data = try storage.read(key) else { continue }
            result[SignalAddress(name: name, deviceID: device)] = try SignalPublicKey(serialized: data)
        }
        return result
    }

    // MARK: - Sessions

    public func session(for address: SignalAddress) throws -> Data? { try storage.read(Self.key("session", address)) }

    public func storeSession(_ record: Data, for address: SignalAddress) throws {
        try storage.write(record, to: Self.key("session", address))
    }

    public func sessionDevices(of name: String) throws -> [Int32] {
        try storage.keys(withPrefix: "session.\(Self.hex(name)).").compactMap { $0.split(separator: ".").last.flatMap { Int32($0) } }
    }

    public func deleteSession(for address: SignalAddress) throws -> Bool {
        try storage.remove(Self.key("session", address))
    }

    public func deleteAllSessions(of name: String) throws -> Int {
        var count = 0
        for device in try sessionDevices(of: name) where try deleteSession(for: SignalAddress(name: name, deviceID: device)) {
            count += 1
        }
        return count
    }

    // MARK: - Prekeys

    public func preKey(_ id: UInt32) throws -> Data? { try storage.read("prekey.\(id)") }
    public func storePreKey(_ record: Data, id: UInt32) throws { try storage.write(record, to: "prekey.\(id)") }
    /// Deletes a used one-time prekey; the last-resort prekey
    /// (`lastResortPreKeyID`) stays, since it may be handed out again.
    public func removePreKey(_ id: UInt32) throws {
        guard id != Self.lastResortPreKeyID else { return }
        try storage.remove("prekey.\(id)")
    }

    /// The id of the last-resort prekey (Signal's `Medium.MAX_VALUE`).
    public static let lastResortPreKeyID: UInt32 = 0xFF_FFFF

    /// The ids of the one-time prekeys kept.
    public func preKeyIDs() throws -> [UInt32] {
        try storage.keys(withPrefix: "prekey.").compactMap { $0.split(separator: ".").last.flatMap { UInt32($0) } }
    }

    public func signedPreKey(_ id: UInt32) throws -> Data? { try storage.read("signed.\(id)") }
    public func storeSignedPreKey(_ record: Data, id: UInt32) throws { try storage.write(record, to: "signed.\(id)") }
    public func removeSignedPreKey(_ id: UInt32) throws { try storage.remove("signed.\(id)") }
    public func signedPreKeyIDs() throws -> [UInt32] {
        try storage.keys(withPrefix: "signed.").compactMap { $0.split(separator: ".").last.flatMap { UInt32($0) } }
    }

    // MARK: - Sender keys

    private static func key(_ name: SenderKeyName) -> String {
        "senderkey.\(hex(name.groupID)).\(hex(name.sender.name)).\(name.sender.deviceID)"
    }

    public func senderKey(for name: SenderKeyName) throws -> Data? { try storage.read(Self.key(name)) }
    public func storeSenderKey(_ record: Data, for name: SenderKeyName) throws { try storage.write(record, to: Self.key(name)) }
    public func deleteSenderKey(for name: SenderKeyName) throws { try storage.remove(Self.key(name)) }
}
