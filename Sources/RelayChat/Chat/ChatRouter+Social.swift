import Foundation
import MQTT
import MQTTServer
import NIOCore
import RelayCore
import RelayIdentity
import RelayStore

/// Receipts, typing and presence: what a device says about reading and
/// being there, and what it hears of its peers.
extension ChatRouter {
    // MARK: - Read receipts (r/<conversation>)

    func receipt(_ message: MQTTMessage, conversation: String, user: String, device: String, on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        let seq: Seq
        let receipt: Relay_V1_Receipt
        do throws(ChatError) {
            _ = try Self.checkConversation(conversation, user: user)
            guard let parsed = try? Relay_V1_Receipt(serializedBytes: Array(message.payload.readableBytesView)) else {
                throw ChatError(.badRequest, "the payload is not a Receipt")
            }
            guard let valid = Seq(parsed.readUpToSeq) else {
                throw ChatError(.badRequest, "read_up_to_seq must be 1 to \(Seq.maximum)")
            }
            (receipt, seq) = (parsed, valid)
        } catch {
            return loop.makeSucceededFuture(error.acknowledgement)
        }
        guard let replicator else {
            return localReceipt(receipt, seq: seq, conversation: conversation, user: user, on: loop)
        }
        // Read markers live where the conversation is sequenced. In sync mode the PUBACK
        // waits until the regions the receipt's frames went to have them.
        return replicator.home(ofConversation: conversation, on: loop).flatMap { home -> EventLoopFuture<MQTTPublishAcknowledgement> in
            guard let home, let serving = replicator.map.servingRegion(of: home), serving != replicator.local else {
                return self.localReceipt(receipt, seq: seq, conversation: conversation, user: user, on: loop).flatMap { ack in
                    guard ack.reasonCode == .success else { return loop.makeSucceededFuture(ack) }
                    return replicator.barrierIfSync(on: loop).map { ack }
                }
            }
            // This region's copy of the members answers for the home where it knows them;
            // where it has none yet, the home decides.
            return self.store.members(of: conversation, on: loop).flatMap { members in
                guard members.isEmpty || members[user] != nil else {
                    return loop.makeFailedFuture(ChatError(.notMember, "\(user) is not in \(conversation)"))
                }
                var forwarded = Relay_V1_ForwardedReceipt()
                forwarded.conversation = conversation
                forwarded.user = user
                forwarded.device = device
                forwarded.receipt = receipt
                return replicator.ship([serving: [replicator.frame { $0.receipt = forwarded }]], on: loop).flatMap { _ in
                    replicator.barrierIfSync(on: loop).map { .accepted }
                }
            }
        }.flatMapError { error in
            loop.makeSucceededFuture(ChatError(redis: error).acknowledgement)
        }
    }

    private func localReceipt(_ receipt: Relay_V1_Receipt, seq: Seq, conversation: String, user: String, on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        store.markRead(conversation: conversation, user: user, seq: seq, on: loop).flatMap { advanced -> EventLoopFuture<MQTTPublishAcknowledgement> in
            guard advanced else { return loop.makeSucceededFuture(.accepted) }
            // The READ statuses are queued (frames appended) before the PUBACK: a sync barrier after it covers them.
            return self.announceRead(conversation: conversation, reader: user, epoch: receipt.epoch, seq: seq.value, on: loop)
                .map { .accepted }.recover { _ in .accepted }
        }.flatMapError { error in
            loop.makeSucceededFuture(ChatError(redis: error).acknowledgement)
        }
    }

    /// Tells the other members' devices that `reader` read up to `seq`,
    /// unless either side turned read receipts off. Runs where the
    /// conversation is sequenced; every member's privacy settings are known
    /// there (each region sends its users' changes to every region as
    /// `PrivacyUpdate` frames). The future completes once the READ statuses
    /// are queued (or none are due); a failure is logged here.
    @discardableResult
    func announceRead(conversation: String, reader: String, epoch: UInt32, seq: UInt64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let conversationID = ConversationID(rawValue: conversation), let readerID = UserID(rawValue: reader) else {
            return loop.makeFailedFuture(ChatError(.badRequest, "\(String(reflecting: conversation)) read by \(String(reflecting: reader))"))
        }
        let announced = store.members(of: conversation, on: loop).flatMap { members -> EventLoopFuture<Void> in
            // Member names out of Redis are validated before use; one that is not a user id is skipped.
            let memberIDs = members.keys.compactMap(UserID.init(rawValue:))
            let asked = memberIDs.contains(readerID) ? memberIDs : memberIDs + [readerID]
            return self.store.readReceiptsOn(asked.map(\.rawValue), on: loop).flatMap { on in
                let audience = ReadReceipts.audience(
                    reader: readerID, members: memberIDs, receiptsOn: Set(on.compactMap(UserID.init(rawValue:)))
                ).map(\.rawValue)
                guard !audience.isEmpty else { return loop.makeSucceededVoidFuture() }
                let status = Relay_V1_Status.read(
                    conversation: conversationID, upTo: MessagePosition(epoch: epoch, seq: seq), by: readerID)
                let entry = QueueEntry.status(Self.bytes(status))
                if let replicator = self.replicator {
                    return replicator.deliver([entry.bytes], users: audience, on: loop)
                }
                return self.store.devices(of: audience, on: loop).flatMap { devices in
                    self.store.enqueue(devices.values.joined().map { ($0, [entry.bytes]) }, on: loop).map { _ in }
                }
            }
        }
        announced.whenFailure { error in
            self.logger.warning("read receipt fan-out failed", metadata: ["conversation": "\(conversation)", "error": "\(error)"])
        }
        return announced
    }

    // MARK: - Typing (t/<conversation>), QoS 0, never stored

    func typing(_ message: MQTTMessage, conversation: String, user: String, device: String, on loop: any EventLoop) {
        guard (try? Self.checkConversation(conversation, user: user)) != nil,
              let typing = try? Relay_V1_Typing(serializedBytes: Array(message.payload.readableBytesView))
        else { return }  // best effort: nothing to answer at QoS 0
        let sent = limiter.admit(.typing, device: device, on: loop).flatMap { refusal -> EventLoopFuture<[String: String]> in
            // Over the limit, typing is dropped: it is best effort.
            refusal == nil
                ? self.store.members(of: conversation, on: loop).map { Self.withDirectMembers($0, conversation: conversation) }
                : loop.makeSucceededFuture([:])
        }.flatMap { members -> EventLoopFuture<Void> in
            guard members[user] != nil else { return loop.makeSucceededVoidFuture() }
            var event = Relay_V1_TypingEvent()
            event.conversation = conversation
            event.user = user
            event.device = device
            event.typing = typing.typing
            let payload = Array("t".utf8) + Self.bytes(event)
            let others = members.keys.filter { $0 != user }
            if let replicator = self.replicator {
                return self.replicatedTyping(event, payload: payload, users: others, replicator: replicator, on: loop)
            }
            return self.store.devices(of: others, on: loop).flatMap { devices in
                // Only nodes holding a device's connection listen: offline devices get nothing.
                self.store.publish(devices.values.joined().map { (ChatStore.channel(device: $0), payload) }, on: loop)
            }
        }
        background.watch(sent, .typing, metadata: ["conversation": "\(conversation)"])
    }

    // MARK: - Presence

    /// How long a presence mark lasts without a refresh; nodes refresh
    /// their devices' marks at a third of it.
    static let presenceLifetime: Int64 = 45_000

    func announcePresence(user: String, device: String, online: Bool, on loop: any EventLoop) {
        let now = Self.nowMilliseconds()
        let mark = online
            ? store.markOnline(user: user, device: device, until: now + Self.presenceLifetime, on: loop)
            : store.markOffline(user: user, device: device, now: now, on: loop)
        mark.flatMap { self.presenceMessage(of: user, on: loop) }
            .flatMap { presence -> EventLoopFuture<Int> in
                if let replicator = self.replicator {
                    // Best effort across regions: watchers elsewhere hear it too.
                    let frame = replicator.frame { $0.presence = presence }
                    self.background.watch(replicator.ship(Dictionary(uniqueKeysWithValues: replicator.map.peers.map { ($0, [frame]) }), on: loop), .presence)
                }
                return self.store.publish(channel: Self.presenceChannel(user), payload: Self.bytes(presence), on: loop)
            }
            .whenFailure { error in
                self.logger.warning("presence update failed", metadata: ["user": "\(user)", "error": "\(error)"])
            }
    }

    /// A user's presence as others may see it (last seen hidden by privacy).
    func presenceMessage(of user: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Presence> {
        store.presence(of: user, now: Self.nowMilliseconds(), on: loop).and(store.showsLastSeen(user, on: loop)).map { state, shows in
            var presence = Relay_V1_Presence()
            presence.user = user
            presence.online = state.online
            presence.lastSeenMs = shows ? state.lastSeen : 0
            return presence
        }
    }

    /// Keeps this node's devices marked online while they stay connected.
    package func startPresenceRefresh(every interval: TimeAmount, on loop: any EventLoop) -> RepeatedTask {
        loop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { _ in
            let until = Self.nowMilliseconds() + Self.presenceLifetime
            let connected = self.connectedDevices()
            let marks = connected.map { self.store.markOnline(user: $0.user, device: $0.device, until: until, on: loop) }
            if let replicator = self.replicator, !connected.isEmpty {
                // Other regions hold a mark per region for these users: refresh it too.
                let frames = Set(connected.map(\.user)).sorted().map { user in
                    replicator.frame { f in
                        var presence = Relay_V1_Presence()
                        presence.user = user
                        presence.online = true
                        f.presence = presence
                    }
                }
                self.background.watch(replicator.ship(Dictionary(uniqueKeysWithValues: replicator.map.peers.map { ($0, frames) }), on: loop), .presence)
            }
            return EventLoopFuture.andAllComplete(marks, on: loop)
        }
    }

    static func presenceChannel(_ user: String) -> String { "p:\(user)" }

    // MARK: - Requests

    func presenceRequest(_ query: Relay_V1_PresenceQuery, user: String, device: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        let target = query.user
        return store.shareConversation(user, target, on: loop).flatMap { shared in
            guard shared else {
                return loop.makeFailedFuture(ChatError(.notFound, "no conversation with \(target)"))
            }
            self.watch(user: target, from: device)
            return self.presenceMessage(of: target, on: loop).map { presence in
                var response = Relay_V1_Response()
                response.presence = presence
                return response
            }
        }
    }

    func historyRequest(_ sync: Relay_V1_HistorySync, user: String, device: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        let conversation = sync.conversation
        let limit = Int(min(max(sync.limit, 1), 500))
        return store.members(of: conversation, on: loop).flatMap { members in
            guard members[user] != nil else {
                return loop.makeFailedFuture(ChatError(.notMember, "\(user) is not in \(conversation)"))
            }
            return self.store.history(conversation: conversation, after: sync.afterSeq, limit: limit, on: loop).flatMap { page in
                self.store.messages(page.seqs.map { (conversation, $0) }, for: device, on: loop).map { messages in
                    var history = Relay_V1_History()
                    history.conversation = conversation
                    history.more = page.more
                    for (seq, stored) in zip(page.seqs, messages) {
                        guard let stored else { continue }  // expired (disappearing or past retention)
                        history.messages.append(Self.delivery(conversation: conversation, seq: seq, stored: stored))
                    }
                    var response = Relay_V1_Response()
                    response.history = history
                    return response
                }
            }
        }
    }

    func privacyRequest(_ settings: Relay_V1_PrivacySettings, user: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        if settings.hasLastSeen, !Self.lastSeenChoices.contains(settings.lastSeen) {
            return loop.makeFailedFuture(ChatError(.badRequest, "last_seen is \"everyone\" or \"nobody\""))
        }
        return store.setPrivacy(
            user: user,
            readReceipts: settings.hasReadReceipts ? settings.readReceipts : nil,
            lastSeen: settings.hasLastSeen ? settings.lastSeen : nil,
            on: loop
        ).flatMap { () -> EventLoopFuture<Void> in
            // Every region learns it: read receipts are decided where a conversation is
            // sequenced. Queued before the answer, so it travels ahead of this device's
            // next receipt on each link.
            guard let replicator = self.replicator else { return loop.makeSucceededVoidFuture() }
            var update = Relay_V1_PrivacyUpdate()
            update.user = user
            if settings.hasReadReceipts { update.readReceipts = settings.readReceipts }
            if settings.hasLastSeen { update.lastSeen = settings.lastSeen }
            let frame = replicator.frame { $0.privacy = update }
            return replicator.ship(Dictionary(uniqueKeysWithValues: replicator.map.peers.map { ($0, [frame]) }), on: loop).map { _ in }
        }.map {
            var response = Relay_V1_Response()
            response.ok = Relay_V1_Empty()
            return response
        }
    }

    /// `devices.link`, sent by a device of `user`: links the device that
    /// `link.token` names, once the token proves it is `user`'s (signed by
    /// the deployment, unexpired, `sub` = `user`, `dev` = `link.device`).
    /// Refusals: `bad_request` (no device or token), `bad_token` (invalid,
    /// expired, or naming another user or device), `forbidden` (the device
    /// id belongs to another user), `quota` (too many devices).
    func linkDevice(_ link: Relay_V1_DevicesLink, user: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        guard let tokens else {
            return loop.makeFailedFuture(ChatError(.unavailable, "this relay cannot check device tokens"))
        }
        guard let target = try? DeviceID(validating: link.device) else {
            return loop.makeFailedFuture(ChatError(.badRequest, "device must be a device id"))
        }
        guard !link.token.isEmpty else {
            return loop.makeFailedFuture(ChatError(.badRequest, "token is required: the new device's own token (user \(user), device \(target.rawValue))"))
        }
        let token = link.token
        return loop.makeFutureWithTask { () async throws -> Void in
            let claims: DeviceTokenClaims
            do {
                claims = try await tokens.verify(token)
            } catch {
                throw ChatError(.badToken, "the device's token is not valid: \(error)")
            }
            guard claims.user == user, claims.device == target.rawValue else {
                throw ChatError(.badToken, "the token is not one of \(user)'s for device \(target.rawValue)")
            }
        }.flatMap {
            self.devicesRequest("link", device: target.rawValue, user: user, home: home, on: loop)
        }
    }

    /// `devices.remove` of one of `user`'s devices (`not_found` for any
    /// other: nothing changes and nothing is told to that device), or the
    /// `link` step of ``linkDevice(_:user:home:on:)`` once the token was
    /// checked. The change is mirrored to the standby; answers the user's
    /// devices.
    func devicesRequest(_ operation: String, device target: String, user: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        let change: EventLoopFuture<Void>
        switch operation {
        case "remove":
            change = store.removeDevice(user: user, device: target, on: loop).flatMap { removed in
                guard removed else { return loop.makeFailedFuture(ChatError(.notFound, "\(user) has no device \(target)")) }
                // Whichever node holds it disconnects it.
                return self.store.publish(channel: ChatStore.channel(device: target), payload: Array("x".utf8), on: loop).map { _ in }
            }
        default:
            change = store.linkDevice(user: user, device: target, on: loop).flatMapThrowing { outcome in
                switch outcome {
                case .registered: return
                case .full: throw ChatError(.quota, "\(user) already has \(self.configuration.maximumDevicesPerUser) devices")
                case .ownedByAnother: throw ChatError(.forbidden, "device \(target) belongs to another user")
                }
            }
        }
        return change.flatMap { () -> EventLoopFuture<Void> in
            guard let replicator = self.replicator else { return loop.makeSucceededVoidFuture() }
            var update = Relay_V1_DeviceUpdate()
            update.user = user
            update.device = target
            update.removed = operation == "remove"
            return replicator.mirror([replicator.frame { $0.device = update }], forHome: home, on: loop).map { _ in }
        }.flatMap { self.store.devices(of: [user], on: loop) }.map { devices in
            var response = Relay_V1_Response()
            var list = Relay_V1_Devices()
            list.devices = devices[user] ?? []
            response.devices = list
            return response
        }
    }

    // MARK: - Compact deliveries

    /// `q/deliveries.compact` (docs/decisions/0030): the asking session's
    /// deliveries in the compact form, or the full form again, from its next
    /// delivery on; answered with its table of refs as it stands.
    func compactDeliveriesRequest(_ request: Relay_V1_CompactDeliveries, device: String, session: MQTTSession, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        guard let pump = store.localPumps[device], pump.session === session else {
            return loop.makeFailedFuture(ChatError(.unavailable, "the connection of \(device) is closing; ask again on the next one"))
        }
        var response = Relay_V1_Response()
        response.compactRefs = pump.compactDeliveries(request.on)
        return loop.makeSucceededFuture(response)
    }

    // MARK: - Helpers

    /// A message's full `Delivery` (docs/protocol.md; the compact form is
    /// made from it by the pump, ``CompactSession``).
    static func delivery(conversation: String, seq: UInt64, stored: ChatStore.StoredMessage) -> Relay_V1_Delivery {
        var delivery = Relay_V1_Delivery()
        delivery.conversation = conversation
        delivery.epoch = stored.epoch
        delivery.seq = seq
        delivery.fromUser = stored.user
        delivery.fromDevice = stored.device
        delivery.serverTimeMs = stored.time
        delivery.ciphertext = Data(stored.ciphertext)
        delivery.clientMessageID = stored.clientMessageID
        delivery.replyToSeq = stored.replyTo
        return delivery
    }
}
