import Foundation
import Logging
import MQTT
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayIdentity
import RelayReplication
import RelayStore
import SwiftProtobuf

/// The chat relay's meaning of MQTT (docs/protocol.md): `s/` sends, `r/`
/// receipts, `t/` typing and `q/` requests up; `d/<device>/…` down, fed from
/// each device's durable queue in Redis by a `DevicePump`.
package final class ChatRouter: MQTTRouter {
    package let store: ChatStore
    let configuration: ChatConfiguration
    private let group: any EventLoopGroup
    let logger: Logger
    /// The pumps of devices connected here (the store offers them what it writes).
    private var pumps: LocalPumps { store.localPumps }
    /// This node, in "device connected here" announcements.
    private let nodeID = UUID().uuidString
    private let subscriber = NIOLockedValueBox<RedisSubscriber?>(nil)
    /// Local devices watching a user's presence, by watched user.
    private let watchers = NIOLockedValueBox<[String: Set<String>]>([:])
    let keys: KeyDirectory
    /// Checks the new device's token in `devices.link` (nil: linking is refused).
    let tokens: TokenVerifier?
    let limiter: RateLimiter
    let metrics = ChatMetrics()
    /// Work no device waits for: retried or at least logged and counted.
    let background: BackgroundWork
    /// One for every pump (a per-pump instance cost each session about 190 bytes).
    private let deliveryMetrics = DeliveryMetrics()
    let replicationMetrics = ReplicationChatMetrics()
    let fanOutChains = SerialChains()
    /// The other regions, when the deployment has more than one.
    package let replicator: Replicator?
    /// Forwarded sends waiting for their home to be served again (with a replicator).
    let parked: ParkedSends?
    /// Frames and fan-outs that can never be applied, set aside.
    package let deadLetters: DeadLetters
    /// `q/media.*`'s authority once media is on (docs/media.md).
    package let mediaHook = MediaHook()

    package init(store: ChatStore, group: any EventLoopGroup, logger: Logger, replicator: Replicator? = nil, tokens: TokenVerifier? = nil) throws {
        self.store = store
        self.tokens = tokens
        self.replicator = replicator
        self.parked = replicator.map { _ in ParkedSends(redis: store.redis, logger: logger) }
        self.deadLetters = DeadLetters(redis: store.redis)
        self.configuration = store.configuration
        self.group = group
        self.logger = logger
        self.background = BackgroundWork(logger: logger)
        self.keys = try KeyDirectory(store: store, logger: logger)
        self.limiter = try RateLimiter(redis: store.redis, configuration: store.configuration, logger: logger)
    }

    /// Listens for device channels: a message on `d:<device>` wakes the
    /// device's pump on this node.
    package func attach(_ subscriber: RedisSubscriber) {
        self.subscriber.withLockedValue { $0 = subscriber }
    }

    /// A channel message arrived (called by the subscriber): on `d:<device>`
    /// a wake-up ("1", or "m<seq>:<conversation>" and "q<position>" naming
    /// what was stored), a typing event ("t…") or a removal ("x"); on
    /// `p:<user>` a presence change for the devices watching that user.
    package func channelMessage(_ channel: String, payload: ByteBuffer) {
        if channel.hasPrefix("p:") {
            let watched = String(channel.dropFirst(2))
            let devices = watchers.withLockedValue { $0[watched] ?? [] }
            let local = pumps.pumps(of: devices)
            for pump in local {
                let message = MQTTMessage(topic: "d/\(pump.device)/p", payload: payload, qos: .atMostOnce, retain: false)
                pump.session.deliver(MQTTDelivery(message: message, qos: .atMostOnce))
            }
            return
        }
        guard channel.hasPrefix("d:") else { return }
        let device = String(channel.dropFirst(2))
        guard let pump = pumps[device] else { return }
        switch payload.getInteger(at: payload.readerIndex, as: UInt8.self) {
        case UInt8(ascii: "t"):
            let event = payload.getSlice(at: payload.readerIndex + 1, length: payload.readableBytes - 1) ?? ByteBuffer()
            let message = MQTTMessage(topic: "d/\(device)/t", payload: event, qos: .atMostOnce, retain: false)
            pump.session.deliver(MQTTDelivery(message: message, qos: .atMostOnce))
        case UInt8(ascii: "o"):
            // The device connected to another node: this connection is stale.
            let node = payload.getString(at: payload.readerIndex + 1, length: payload.readableBytes - 1)
            if node != nodeID {
                pump.session.disconnect(reasonCode: .sessionTakenOver)
            }
        case UInt8(ascii: "x"):
            var properties = MQTTProperties()
            properties.reasonString = "device removed by its user"
            pump.session.disconnect(reasonCode: .notAuthorized, properties: properties)
        case UInt8(ascii: "m"):
            // "m<seq>:<conversation>" (fanout.lua)
            let text = payload.getString(at: payload.readerIndex + 1, length: payload.readableBytes - 1) ?? ""
            if let colon = text.firstIndex(of: ":"), let seq = UInt64(text[..<colon]) {
                pump.woken(conversation: String(text[text.index(after: colon)...]), seq: seq)
            } else {
                pump.wake()
            }
        case UInt8(ascii: "q"):
            // "q<position>" (enqueue.lua)
            let text = payload.getString(at: payload.readerIndex + 1, length: payload.readableBytes - 1) ?? ""
            if let position = Int(text) { pump.woken(queuePosition: position) } else { pump.wake() }
        default:
            pump.wake()
        }
    }

    /// Devices connected to this node.
    func connectedDevices() -> [(user: String, device: String)] {
        pumps.all.map { ($0.user, $0.device) }
    }

    /// `device` (on this node) hears `user`'s presence changes from now on.
    func watch(user: String, from device: String) {
        let first = watchers.withLockedValue { watchers -> Bool in
            let first = watchers[user] == nil
            watchers[user, default: []].insert(device)
            return first
        }
        if first {
            _ = subscriber.withLockedValue { $0 }?.subscribe(.sharded(Self.presenceChannel(user)), on: group.next())
        }
    }

    private func unwatchAll(from device: String) {
        let emptied = watchers.withLockedValue { watchers -> [String] in
            var emptied: [String] = []
            for (user, devices) in watchers where devices.contains(device) {
                watchers[user]?.remove(device)
                if watchers[user]?.isEmpty == true {
                    watchers[user] = nil
                    emptied.append(user)
                }
            }
            return emptied
        }
        for user in emptied {
            _ = subscriber.withLockedValue { $0 }?.unsubscribe(.sharded(Self.presenceChannel(user)), on: group.next())
        }
    }

    /// The subscriber reconnected: anything may have been missed.
    package func wakeAll() {
        for pump in pumps.all { pump.wake() }
    }

    private static func identity(_ session: MQTTSession) -> (user: String, device: String)? {
        let attributes = session.principal.attributes
        guard let user = attributes["user"], let device = attributes["device"] else { return nil }
        return (user, device)
    }

    // MARK: - Sessions

    package func sessionConnected(_ session: MQTTSession, resumed: Bool) {
        guard let (user, device) = Self.identity(session) else {
            session.disconnect(reasonCode: .notAuthorized)
            return
        }
        let loop = group.next()
        limiter.hold(device: device)
        startPump(session: session, user: user, device: device, loop: loop)
        announcePresence(user: user, device: device, online: true, on: loop)
        store.pushHook.connected(device: device)
        // A connection of this device on another node is stale now (MQTT's
        // session takeover, across the region's nodes).
        background.watch(store.publish(channel: ChatStore.channel(device: device), payload: Array("o\(nodeID)".utf8), on: loop),
                         .takeover, metadata: ["device": "\(device)"])
    }

    /// Admits a device before CONNACK: refuses a removed one (0x87) and one
    /// past the user's device limit (0x97); records a new one.
    package func admit(user: String, device: String, home: String) async -> (ReasonCode, String)? {
        let loop = group.next()
        if let replicator {
            guard replicator.authority.isSettled else {
                return (.serverUnavailable, "region \(replicator.local) is starting: it waits to hear another region first")
            }
            guard replicator.authority.isWritable else {
                return (.serverUnavailable, "region \(replicator.local) is cut off from a majority of the regions; retry shortly")
            }
            guard replicator.map.servesHere(home) else {
                return (.serverUnavailable, "region \(home) is not served right now (failing back); retry shortly")
            }
        }
        do {
            if try await store.isRevoked(user: user, device: device, on: loop).get() {
                return (.notAuthorized, "device \(device) was removed; link it again from another device")
            }
            switch try await store.register(device: device, user: user, on: loop).get() {
            case .registered: break
            case .full: return (.quotaExceeded, "user \(user) already has \(configuration.maximumDevicesPerUser) devices")
            case .ownedByAnother: return (.notAuthorized, "device \(device) belongs to another user")
            }
            if let replicator {
                try await replicator.recordUser(user, home: home, on: loop).get()
                var update = Relay_V1_DeviceUpdate()
                update.user = user
                update.device = device
                _ = try await replicator.mirror([replicator.frame { $0.device = update }], forHome: home, on: loop).get()
            }
            return nil
        } catch {
            logger.error("device admission failed", metadata: ["device": "\(device)", "error": "\(error)"])
            return (.serverUnavailable, "the region's store is unavailable")
        }
    }

    /// The device endpoint of the region serving `home`, when that is not
    /// this one (MQTT 5 CONNACK 0x9C Use another server).
    package func redirect(home: String) -> String? {
        guard let replicator, let serving = replicator.map.servingRegion(of: home), serving != replicator.local else { return nil }
        return replicator.deviceEndpoints[serving]
    }

    /// Regions changed hands: devices whose home this region no longer
    /// serves are sent where it is served now, and sends parked for a home
    /// that is served again go on.
    func regionsChanged(_ map: RegionMap) {
        drainParked(on: group.next())
        let stale = pumps.all.filter { !map.servesHere($0.home) }
        for pump in stale {
            var properties = MQTTProperties()
            if let serving = map.servingRegion(of: pump.home), let endpoint = replicator?.deviceEndpoints[serving] {
                properties.serverReference = endpoint
                properties.reasonString = "region \(pump.home) is now served by \(serving)"
                pump.session.disconnect(reasonCode: .useAnotherServer, properties: properties)
            } else {
                properties.reasonString = "region \(pump.home) is failing back; reconnect shortly"
                pump.session.disconnect(reasonCode: .serverBusy, properties: properties)
            }
        }
    }

    /// This region lost its write lease (cut off from a majority of the
    /// regions, automatic failover): its devices are disconnected with
    /// 0x89 Server busy (0x88 Server unavailable is a CONNACK code only)
    /// so that they try again, and find the standby once it has taken over.
    func leaseLost() {
        for pump in pumps.all {
            var properties = MQTTProperties()
            properties.reasonString = "region \(configuration.region) is cut off from a majority of the regions; reconnect shortly"
            pump.session.disconnect(reasonCode: .serverBusy, properties: properties)
        }
    }

    private func startPump(session: MQTTSession, user: String, device: String, loop: any EventLoop) {
        let home = session.principal.attributes[DeviceAttribute.home] ?? configuration.region
        let pump = DevicePump(
            device: device, user: user, home: home, session: session, store: store, loop: loop,
            window: configuration.deliveryWindow, maximumBehind: configuration.maximumQueuedPerDevice, logger: logger,
            metrics: deliveryMetrics, delegate: self
        )
        pumps.register(pump)?.stop()
        _ = subscriber.withLockedValue { $0 }?.subscribe(.sharded(ChatStore.channel(device: device)), on: loop)
        pump.wake()
        store.takeDropped(device: device, on: loop).whenSuccess { dropped in
            guard dropped > 0 else { return }
            let event = Relay_V1_Event.queueOverflow(dropped: UInt64(dropped), cap: self.configuration.maximumQueuedPerDevice)
            self.deliverNow(event, topic: "d/\(device)/e", to: session)
        }
    }

    package func sessionDisconnected(_ session: MQTTSession) {
        guard let (user, device) = Self.identity(session) else { return }
        guard let pump = pumps.remove(device: device, if: { $0.session === session }) else { return }
        pump.stop()
        limiter.release(device: device, on: group.next())
        _ = subscriber.withLockedValue { $0 }?.unsubscribe(.sharded(ChatStore.channel(device: device)), on: group.next())
        unwatchAll(from: device)
        announcePresence(user: user, device: device, online: false, on: group.next())
    }

    package func sessionEnded(_ session: MQTTSession) {
        sessionDisconnected(session)
        if let (_, device) = Self.identity(session) { pumps.sessionEnded(session, device: device) }
    }

    // MARK: - Subscriptions

    package func subscribe(_ request: MQTTSubscribeRequest, from session: MQTTSession) -> MQTTSubscribeResult {
        let device = Self.identity(session).flatMap { DeviceID(rawValue: $0.device) }
        let codes = request.subscriptions.map { subscription -> ReasonCode in
            // A device may subscribe to its own d/<device>/# (or a part) and nothing else.
            guard let device, DeviceSubscription.isPermitted(filter: subscription.topicFilter, device: device) else {
                return .notAuthorized
            }
            return .grantedQoS1
        }
        return MQTTSubscribeResult(reasonCodes: codes)
    }

    package func unsubscribe(_ topicFilters: [String], from session: MQTTSession) -> [ReasonCode] {
        topicFilters.map { _ in .success }
    }

    // MARK: - Publishes

    package func publish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<ReasonCode> {
        acknowledgedPublish(message, from: session).map(\.reasonCode)
    }

    /// A device's publish; a refusal's PUBACK carries a Reason String saying why.
    package func acknowledgedPublish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<MQTTPublishAcknowledgement> {
        guard let (user, device) = Self.identity(session) else { return .completed(MQTTPublishAcknowledgement(reasonCode: .notAuthorized)) }
        let topic = message.topic
        let loop = group.next()
        if topic.hasPrefix("s/") {
            let sent = send(message, conversation: String(topic.dropFirst(2)), user: user, device: device, session: session, on: loop)
            metrics.timeAck(sent, since: .now())
            return .pending(sent)
        }
        if topic.hasPrefix("q/") {
            request(message, method: String(topic.dropFirst(2)), user: user, device: device, session: session, on: loop)
            return .completed(.accepted)
        }
        if topic.hasPrefix("r/") {
            return .pending(receipt(message, conversation: String(topic.dropFirst(2)), user: user, device: device, on: loop))
        }
        if topic.hasPrefix("t/") {
            typing(message, conversation: String(topic.dropFirst(2)), user: user, device: device, on: loop)
            return .completed(.accepted)
        }
        return .completed(MQTTPublishAcknowledgement(reasonCode: .topicNameInvalid))
    }

    // MARK: - Sending

    /// A device's send, decided by a ``SendMachine`` whose actions this
    /// performs one after another.
    private func send(_ message: MQTTMessage, conversation: String, user: String, device: String, session: MQTTSession, on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        let request = SendMachine.Request(conversation: conversation, user: user, device: device, payload: Array(message.payload.readableBytesView))
        let machine = SendMachine(request, limits: configuration.sendLimits, replicated: replicator != nil)
        return perform(machine.start(), machine, session: session, on: loop)
    }

    /// Performs a send's `action` and feeds its outcome back to `machine`.
    private func perform(_ action: SendMachine.Action, _ machine: SendMachine, session: MQTTSession, on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        switch action {
        case .checkRate(let device):
            return step(limiter.admit(.send, device: device, on: loop), machine, session: session, on: loop) { machine, refusal in
                machine.admitted(refusal, nowMilliseconds: Self.nowMilliseconds())
            }
        case .store(let accept):
            return step(store.accept(accept, on: loop), machine, session: session, on: loop) { $0.stored($1) }
        case .findHome, .sequenceHere, .forward:
            guard let replicator else {
                var machine = machine
                let next = machine.failed(ChatError(.unavailable, "this region has no other regions to route through"))
                return perform(next, machine, session: session, on: loop)
            }
            return performAcrossRegions(action, machine, replicator: replicator, session: session, on: loop)
        case .finish(let acknowledgement, let effects):
            let request = machine.request
            if let refusal = effects.refusal {
                refuse(refusal, conversation: request.conversation, clientMessageID: effects.refusedClientMessageID, device: request.device, session: session)
            }
            if effects.countAccepted { metrics.accepted.increment() }
            if let stored = effects.stored { performStored(stored, conversation: request.conversation, device: request.device, on: loop) }
            return loop.makeSucceededFuture(acknowledgement)
        }
    }

    /// The steps of a send in a deployment with other regions.
    private func performAcrossRegions(_ action: SendMachine.Action, _ machine: SendMachine, replicator: Replicator, session: MQTTSession,
                                      on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        switch action {
        case .findHome(let accept):
            return step(replicator.home(ofConversation: accept.conversation, on: loop), machine, session: session, on: loop) { machine, home in
                machine.homeFound(home, map: replicator.map, sync: replicator.mode == .sync)
            }
        case .sequenceHere(let accept, let home):
            return step(sequenceHere(accept, home: home, replicator: replicator, on: loop), machine, session: session, on: loop) { machine, _ in
                machine.sequenced()
            }
        case .forward(let send, let serving, let copy, let standby):
            return step(forward(send, to: serving, copy: copy, to: standby, replicator: replicator, on: loop), machine, session: session, on: loop) { machine, _ in
                machine.forwarded()
            }
        case .checkRate, .store, .finish:
            return perform(action, machine, session: session, on: loop)
        }
    }

    /// Waits for `future`, gives its value to `event` (or its error to
    /// ``SendMachine/failed(_:)``) and performs the action that comes back.
    private func step<Value: Sendable>(_ future: EventLoopFuture<Value>, _ machine: SendMachine, session: MQTTSession, on loop: any EventLoop,
                                       _ event: @escaping @Sendable (inout SendMachine, Value) -> SendMachine.Action) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        future.map { value in
            var machine = machine
            let action = event(&machine, value)
            return (action, machine)
        }.recover { error in
            var machine = machine
            let action = machine.failed(error)
            return (action, machine)
        }.flatMap { action, machine in
            self.perform(action, machine, session: session, on: loop)
        }
    }

    /// One region: what a stored send leads to (``SendMachine/afterStored(_:_:)``).
    private func performStored(_ stored: SendMachine.Stored, conversation: String, device: String, on loop: any EventLoop) {
        enqueue([(device, [QueueEntry.status(Self.bytes(stored.sequenced))])], on: loop)
        if let message = stored.fanOut {
            fanOut(conversation: conversation, seq: message.seq, sender: device, message: message, on: loop)
        }
        if let users = stored.shareMembership {
            // A new 1:1 conversation: its users now see each other's presence.
            store.noteMembership(users: users, conversation: conversation, member: true, on: loop).whenFailure { error in
                self.logger.warning("presence sharing not recorded", metadata: ["conversation": "\(conversation)", "error": "\(error)"])
            }
        }
    }

    /// The other user of a 1:1 conversation (the user themself in a
    /// conversation with oneself, notes to self), "" for a group, or a refusal.
    static func checkConversation(_ conversation: String, user: String) throws(ChatError) -> String {
        let id: ConversationID
        do {
            id = try ConversationID(validating: conversation)
        } catch {
            throw ChatError(.badRequest, "\(error)")
        }
        if let (a, b) = id.directUsers {
            guard user == a.rawValue || user == b.rawValue else { throw ChatError(.notMember, "\(user) is not in \(conversation)") }
            return user == a.rawValue ? b.rawValue : a.rawValue
        }
        return ""
    }

    /// A `Send` payload validated by RelayCore's rules (size, client message
    /// id, ciphertexts, reply-to seq), or the refusal.
    static func checkSend(_ payload: [UInt8], limits: SendLimits) throws(ChatError) -> ValidatedSend {
        do {
            return try ValidatedSend(decoding: payload, limits: limits)
        } catch {
            throw ChatError(error)
        }
    }

    /// A decoded `Send` (a forwarded one) validated by the same rules.
    static func checkSend(_ send: Relay_V1_Send, limits: SendLimits) throws(ChatError) -> ValidatedSend {
        do {
            return try ValidatedSend(validating: send, limits: limits)
        } catch {
            throw ChatError(error)
        }
    }

    /// Tells the sending device why a send was refused (3.1.1 has no PUBACK codes).
    func refuse(_ error: ChatError, conversation: String, clientMessageID: String, device: String, session: MQTTSession) {
        metrics.refused(error.code.rawValue)
        deliverNow(error.refusedStatus(conversation: conversation, clientMessageID: clientMessageID), topic: "d/\(device)/s", to: session)
    }

    /// Marks the conversation dirty up to `seq` for every member device but
    /// the sender's; their pumps read the log from their cursors, or take
    /// `message` (just stored) when connected here (decision 0008).
    private func fanOut(conversation: String, seq: UInt64, sender: String, message: Relay_V1_ReplicatedMessage? = nil, on loop: any EventLoop) {
        fanOutNow(conversation: conversation, seq: seq, sender: sender, message: message, on: loop).whenFailure { error in
            self.logger.error("fan-out failed; the sweeper will finish it", metadata: ["conversation": "\(conversation)", "seq": "\(seq)", "error": "\(error)"])
        }
    }

    /// The fan-out of `seq`, completing once it is recorded as finished.
    func fanOutNow(conversation: String, seq: UInt64, sender: String, message: Relay_V1_ReplicatedMessage? = nil, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard ConversationID(rawValue: conversation) != nil else {
            return loop.makeFailedFuture(ChatError(.badRequest, "\(String(reflecting: conversation)) is not a conversation id"))
        }
        if let replicator {
            return replicator.home(ofConversation: conversation, on: loop).flatMap { home -> EventLoopFuture<Void> in
                guard let home, replicator.map.servesHere(home) else { return loop.makeSucceededVoidFuture() }
                return self.replicatedFanOut(conversation: conversation, seq: seq, home: home, replicator: replicator, on: loop).map { _ in }
            }
        }
        // A 1:1 conversation's members are in its id.
        let direct = Self.withDirectMembers([:], conversation: conversation)
        let members = direct.isEmpty ? store.members(of: conversation, on: loop) : loop.makeSucceededFuture(direct)
        return members.map { Array($0.keys) }
            .flatMap { members in
                // Devices connected here have it at once; the marks follow for the record.
                if let message { self.store.localPumps.offer(message, toUsers: members) }
                return self.store.devices(of: members, on: loop)
            }
            .flatMap { devices -> EventLoopFuture<Void> in
                let targets = devices.values.joined().filter { $0 != sender }
                self.metrics.fanOut.record(targets.count)
                return self.store.markDirty(devices: Array(targets), conversation: conversation, seq: seq, on: loop)
            }
            .flatMap { self.store.finishFanout(conversation: conversation, seq: seq, on: loop) }
    }

    @discardableResult
    private func enqueue(_ items: [(String, [QueueEntry])], on loop: any EventLoop) -> EventLoopFuture<Void> {
        store.enqueue(items.map { ($0.0, $0.1.map(\.bytes)) }, on: loop).map { _ in }
    }

    /// A device acknowledged a message: the sender's devices hear "delivered".
    func delivered(conversation: String, message: ChatStore.StoredMessage, seq: UInt64, to user: String, device: String, on loop: any EventLoop) {
        guard message.user != user else { return }
        var status = Relay_V1_Status()
        status.kind = .delivered
        status.conversation = conversation
        status.epoch = message.epoch
        status.seq = seq
        status.clientMessageID = message.clientMessageID
        status.user = user
        status.device = device
        let entry = QueueEntry.status(Self.bytes(status))
        if let replicator {
            background.retry(.delivered, on: loop, metadata: ["conversation": "\(conversation)", "seq": "\(seq)"]) {
                replicator.deliver([entry.bytes], users: [message.user], on: loop)
            }
            return
        }
        store.devices(of: [message.user], on: loop).whenSuccess { devices in
            self.enqueue((devices[message.user] ?? []).map { ($0, [entry]) }, on: loop)
        }
    }

    // MARK: - Requests

    private func request(_ message: MQTTMessage, method: String, user: String, device: String, session: MQTTSession, on loop: any EventLoop, admitted: Bool = false) {
        guard admitted else {  // the rate limit (keys.fetch has its own, stricter)
            limiter.admit(RateLimiter.Bucket(method: method), device: device, on: loop).whenSuccess { refusal in
                guard let refusal else { return self.request(message, method: method, user: user, device: device, session: session, on: loop, admitted: true) }
                self.answer(.failure(refusal), to: message, requestID: RateLimiter.requestID(in: message), device: device, session: session)
            }
            return
        }
        let request: Relay_V1_Request
        do {
            request = try Relay_V1_Request(serializedBytes: Array(message.payload.readableBytesView))
        } catch {
            answer(.failure(ChatError(.badRequest, "the payload is not a Request")), to: message, requestID: "", device: device, session: session)
            return
        }
        do {
            try RequestValidation.validate(request)
        } catch {
            answer(.failure(ChatError(.badRequest, error.description)), to: message, requestID: request.requestID, device: device, session: session)
            return
        }
        let home = session.principal.attributes[DeviceAttribute.home] ?? configuration.region
        var result: EventLoopFuture<Relay_V1_Response>
        switch (method, request.body) {
        case ("group.create", .groupCreate(let create)):
            result = createGroup(create, user: user, home: home, on: loop)
        case ("group.add", .groupAdd(let change)):
            result = changeGroup(change.conversation, actor: user, operation: "add", users: change.users, on: loop)
        case ("group.remove", .groupRemove(let change)):
            result = changeGroup(change.conversation, actor: user, operation: "remove", users: change.users, on: loop)
        case ("group.leave", .groupLeave(let leave)):
            result = changeGroup(leave.conversation, actor: user, operation: "leave", users: [], on: loop)
        case ("group.admins", .groupAdmins(let change)):
            result = changeGroup(change.conversation, actor: user, operation: "admin", users: change.users, on: loop)
        case ("conversation.settings", .conversationSettings(let settings)):
            result = managedHere(settings.conversation, on: loop).flatMap {
                self.store.setConversationTTL(settings.conversation, user: user, seconds: settings.ttlSeconds, on: loop)
            }.flatMap {
                self.store.members(of: settings.conversation, on: loop).and(self.store.conversationMeta(settings.conversation, on: loop))
            }.flatMap { members, meta in
                self.shareConversation(settings.conversation, members: members, on: loop).map {
                    Self.groupResponse(settings.conversation, members: members, meta: meta)
                }
            }
        case ("history.sync", .historySync(let sync)):
            result = historyRequest(sync, user: user, device: device, on: loop)
        case ("presence.get", .presenceQuery(let query)):
            result = presenceRequest(query, user: user, device: device, on: loop)
        case ("privacy.set", .privacy(let settings)):
            result = privacyRequest(settings, user: user, on: loop)
        case ("devices.remove", .devicesRemove(let remove)):
            result = devicesRequest("remove", device: remove.device, user: user, home: home, on: loop)
        case ("devices.link", .devicesLink(let link)):
            result = linkDevice(link, user: user, home: home, on: loop)
        case ("keys.upload", .keysUpload(let upload)):
            result = uploadKeys(upload, device: device, home: home, on: loop)
        case ("keys.fetch", .keysFetch(let fetch)):
            result = fetchKeys(fetch, requester: device, on: loop)
        case ("push.register", .pushRegister(let register)):
            result = registerPush(register, user: user, device: device, home: home, on: loop)
        case ("push.unregister", .pushUnregister):
            result = unregisterPush(user: user, device: device, home: home, on: loop)
        case ("media.upload", .mediaUpload(let upload)):
            result = mediaUploadRequest(upload, user: user, home: home, on: loop)
        case ("media.download", .mediaDownload(let download)):
            result = mediaDownloadRequest(download, on: loop)
        case ("deliveries.compact", .compactDeliveries(let compact)):
            result = compactDeliveriesRequest(compact, device: device, session: session, on: loop)
        case ("devices.list", .devicesList):
            result = store.devices(of: [user], on: loop).map { devices in
                var response = Relay_V1_Response()
                var list = Relay_V1_Devices()
                list.devices = devices[user] ?? []
                response.devices = list
                return response
            }
        default:
            result = loop.makeFailedFuture(ChatError(.notFound, "no method \(method) taking this request"))
        }
        if let replicator, Self.syncedRequests.contains(method) {
            // Sync mode: the answer waits until the change's frames reached the regions they went to.
            result = result.flatMap { response in replicator.barrierIfSync(on: loop).map { response } }
        }
        result.whenComplete { outcome in
            self.answer(outcome.mapError { ChatError(redis: $0) }, to: message, requestID: request.requestID, device: device, session: session)
        }
    }

    /// Requests whose answer, in sync mode, waits for ``Replicator/barrierIfSync(on:)``.
    static let syncedRequests: Set<String> = [
        "group.create", "group.add", "group.remove", "group.leave", "group.admins", "conversation.settings",
        "privacy.set", "devices.remove", "devices.link", "push.register", "push.unregister",
    ]

    private func createGroup(_ create: Relay_V1_GroupCreate, user: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        let id = GroupIDGenerator().next().rawValue
        // In the order given (it ranks them for the admin succession), each once.
        var seen: Set<String> = [user]
        let members = [user] + create.members.filter { seen.insert($0).inserted }
        return store.createGroup(id, creator: user, members: members, nowMilliseconds: Self.nowMilliseconds(), on: loop).flatMap { _ in
            self.store.noteMembership(users: members, conversation: id, member: true, on: loop)
        }.flatMap {
            // The directory first: the other regions learn the group's home before any of its frames.
            self.replicator?.recordConversation(id, home: home, on: loop) ?? loop.makeSucceededVoidFuture()
        }.flatMap {
            self.store.members(of: id, on: loop).flatMap { self.shareConversation(id, members: $0, on: loop) }
        }.flatMap {
            self.groupInfo(id, change: .created, actor: user, users: members, on: loop)
        }
    }

    /// Fails unless this region manages (sequences) `conversation`.
    private func managedHere(_ conversation: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let replicator else { return loop.makeSucceededVoidFuture() }
        return replicator.home(ofConversation: conversation, on: loop).flatMapThrowing { home in
            guard let home else { throw ChatError(.notFound, "no conversation \(conversation)") }
            guard replicator.map.servesHere(home) else {
                let serving = replicator.map.servingRegion(of: home) ?? home
                throw ChatError(.wrongRegion, "\(conversation) is managed by region \(serving); change it from a device of that region")
            }
        }
    }

    /// Sends a conversation's state to its mirror and the regions of its members.
    private func shareConversation(_ id: String, members: [String: String], formerMembers: [String] = [], on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let replicator else { return loop.makeSucceededVoidFuture() }
        return replicator.home(ofConversation: id, on: loop).flatMap { home in
            replicator.shareConversation(id, home: home ?? replicator.local, members: members, formerMembers: formerMembers, on: loop)
        }
    }

    private func changeGroup(_ id: String, actor: String, operation: String, users: [String], on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        // The admin check first, from this region's copy of the members where it has one, so that
        // a non-admin hears not_admin wherever it asks from (the home checks again in group_change.lua).
        store.members(of: id, on: loop).flatMapThrowing { copy in
            guard operation != "leave", !copy.isEmpty else { return }
            guard let role = copy[actor] else { throw ChatError(.notMember, "\(actor) is not a member") }
            guard role == "admin" else { throw ChatError(.notAdmin, "only admins may change members") }
        }.flatMap {
            // Before a change, to tell removed members and pick a successor for a leaving admin.
            self.managedHere(id, on: loop)
        }.flatMap { self.store.members(of: id, on: loop).and(self.store.joinOrder(of: id, on: loop)) }.flatMap { before, order in
            let successor = operation == "leave" ? Self.successor(of: actor, in: id, members: before, joinOrder: order) : ""
            return self.store.changeGroup(id, actor: actor, operation: operation, users: users, successor: successor, on: loop).flatMap { _ -> EventLoopFuture<Void> in
                switch operation {
                case "add": return self.store.noteMembership(users: users, conversation: id, member: true, on: loop)
                case "remove": return self.store.noteMembership(users: users, conversation: id, member: false, on: loop)
                case "leave": return self.store.noteMembership(users: [actor], conversation: id, member: false, on: loop)
                default: return loop.makeSucceededVoidFuture()
                }
            }.flatMap { _ in
                let change: Relay_V1_MembershipEvent.Change
                switch operation {
                case "add": change = .added
                case "remove": change = .removed
                case "leave": change = .left
                default: change = .adminGranted
                }
                return self.store.members(of: id, on: loop).flatMap { after in
                    self.shareConversation(id, members: after, formerMembers: Array(before.keys), on: loop)
                }.flatMap {
                    self.groupInfo(id, change: change, actor: actor, users: operation == "leave" ? [actor] : users, alsoTell: Array(before.keys), on: loop)
                }.flatMap { response in
                    // As Group.leave tells it: the promotion is an event of its own, with no actor.
                    guard !successor.isEmpty else { return loop.makeSucceededFuture(response) }
                    return self.groupInfo(id, change: .adminGranted, actor: "", users: [successor], on: loop).map { _ in response }
                }
            }
        }
    }

    /// The member promoted when `actor` leaves `group`, by RelayCore's rule
    /// (``Group/leave(_:)``: the earliest-joined remaining member, when the
    /// last admin leaves), or "" when nobody is. `members` maps users to
    /// roles; `joinOrder` ranks them, and members missing from it (groups
    /// made before the order was kept) come after, by name.
    static func successor(of actor: String, in group: String, members: [String: String], joinOrder: [String]) -> String {
        let ranked = joinOrder.filter { members[$0] != nil } + members.keys.filter { !joinOrder.contains($0) }.sorted()
        guard let id = try? ConversationID(validating: group), let leaver = try? UserID(validating: actor) else { return "" }
        let users = ranked.compactMap { try? UserID(validating: $0) }
        let admins = Set(users.filter { members[$0.rawValue] == "admin" })
        guard var before = try? Group(id: id, members: users, admins: admins) else { return "" }
        let adminsBefore = before.admins
        guard (try? before.leave(leaver)) != nil else { return "" }
        return before.admins.subtracting(adminsBefore).first?.rawValue ?? ""
    }

    /// Reads a group, tells its members (and `alsoTell`) what changed, and
    /// answers with its state.
    private func groupInfo(_ id: String, change: Relay_V1_MembershipEvent.Change, actor: String, users: [String], alsoTell: [String] = [], on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        store.members(of: id, on: loop).and(store.conversationMeta(id, on: loop)).flatMap { members, meta in
            var event = Relay_V1_MembershipEvent()
            event.conversation = id
            event.change = change
            event.actor = actor
            event.users = users
            var wrapper = Relay_V1_Event()
            wrapper.membership = event
            let entry = QueueEntry.event(Self.bytes(wrapper))
            let audience = Array(Set(Array(members.keys) + alsoTell))
            if let replicator = self.replicator {
                return replicator.deliver([entry.bytes], users: audience, on: loop).map { Self.groupResponse(id, members: members, meta: meta) }
            }
            return self.store.devices(of: audience, on: loop).flatMap { devices in
                self.enqueue(devices.values.joined().map { ($0, [entry]) }, on: loop)
            }.map {
                Self.groupResponse(id, members: members, meta: meta)
            }
        }
    }

    /// Sends a response: to the MQTT 5 response topic with its correlation
    /// data (only the device's own `d/<device>/a` is allowed), else to
    /// `d/<device>/a` with the request id.
    private func answer(_ outcome: Result<Relay_V1_Response, ChatError>, to request: MQTTMessage, requestID: String, device: String, session: MQTTSession) {
        var response: Relay_V1_Response
        switch outcome {
        case .success(let r): response = r
        case .failure(let error):
            response = Relay_V1_Response()
            response.error = error.wire
        }
        response.requestID = requestID
        var properties = MQTTProperties()
        properties.correlationData = request.properties.correlationData
        let message = MQTTMessage(topic: "d/\(device)/a", payload: ByteBuffer(bytes: Self.bytes(response)), qos: .atLeastOnce, retain: false, properties: properties)
        session.deliver(MQTTDelivery(message: message, qos: .atLeastOnce))
    }

    // MARK: - Helpers

    /// A `GroupInfo` answer from a conversation's members and their roles.
    static func groupResponse(_ id: String, members: [String: String], meta: ChatStore.ConversationMeta) -> Relay_V1_Response {
        var info = Relay_V1_GroupInfo()
        info.conversation = id
        info.members = members.keys.sorted()
        info.admins = members.filter { $0.value == "admin" }.map(\.key).sorted()
        info.epoch = meta.epoch
        info.ttlSeconds = meta.ttlSeconds
        var response = Relay_V1_Response()
        response.group = info
        return response
    }

    func deliverNow(_ payload: some SwiftProtobuf.Message, topic: String, to session: MQTTSession) {
        let message = MQTTMessage(topic: topic, payload: ByteBuffer(bytes: Self.bytes(payload)), qos: .atLeastOnce, retain: false)
        session.deliver(MQTTDelivery(message: message, qos: .atLeastOnce))
    }

    static func bytes(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        (try? message.serializedBytes()) ?? []
    }

    package static func nowMilliseconds() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000)
    }
}
