import Foundation
import Mosquitto
import RelayCore
import SwiftProtobuf
import Synchronization

/// A device's connection to the relay (docs/protocol.md): connect with a
/// failover list, send with retries under one client message id, receive
/// deliveries deduplicated and in seq order, receipts, typing, requests.
///
/// Delivery semantics: libmosquitto sends the MQTT PUBACK for a `Delivery` as
/// soon as it has read it, before `deliveries` yields it, and that PUBACK is
/// what the relay counts as "delivered". So "delivered" means received by the
/// device process, not handled by the app: an app that must not lose a message
/// it crashed on persists `lastReleasedSeqs` and fills gaps with history sync.
///
/// Compact deliveries (docs/protocol.md, "Compact deliveries"): by default
/// the client asks for them after every connect and resolves their refs, in
/// the order they arrive, back to full `Delivery`s before `deliveries`
/// yields them; it forgets its refs when a CONNACK says Session Present 0.
/// A delivery whose ref it cannot resolve (it should not happen) is looked
/// up: the client asks for the relay's table (`q/deliveries.compact`) and
/// fetches the message with `history.sync`; one it cannot find that way is
/// counted in `unresolvedDeliveries`.
public final class RelayClient: Sendable {
    /// How a client connects and how long it waits.
    public struct Configuration: Sendable {
        /// User id (MQTT user name).
        public var user: String
        /// Device id (MQTT client identifier).
        public var device: String
        /// Token (MQTT password).
        public var token: String
        /// Tried in order; a Server Reference puts its endpoint first.
        public var endpoints: [Endpoint]
        /// MQTT version; 5 by default.
        public var protocolVersion: MosquittoClient.ProtocolVersion = .v5
        /// Keep alive, seconds.
        public var keepAlive: Int = 60
        /// Receive Maximum: deliveries the relay may have unacknowledged.
        public var receiveMaximum: UInt16 = 32
        /// TLS, or nil for plain TCP.
        public var tls: MosquittoClient.TLS?
        /// Clean start; false keeps the MQTT session (the relay's queue is durable either way).
        public var cleanStart: Bool = false
        /// Session Expiry Interval (MQTT 5), seconds.
        public var sessionExpiry: UInt32 = 604_800
        /// How long one endpoint may take to answer CONNECT and SUBSCRIBE.
        public var connectTimeout: Duration = .seconds(10)
        /// How long one attempt of a send waits for its PUBACK before resending.
        public var sendTimeout: Duration = .seconds(10)
        /// Attempts of one send (same client message id) before it fails.
        public var maximumSendAttempts: Int = 5
        /// How long a send waits for `Status SEQUENCED` after its PUBACK.
        public var statusTimeout: Duration = .seconds(2)
        /// How long a request waits for its response.
        public var requestTimeout: Duration = .seconds(15)
        /// First delay before reconnecting after a lost link; doubles per failed round.
        public var reconnectDelay: Duration = .milliseconds(250)
        /// The longest delay between reconnect rounds.
        public var maximumReconnectDelay: Duration = .seconds(30)
        /// Server References followed in one connect before giving up.
        public var maximumRedirects: Int = 4
        /// Ask for compact deliveries (`q/deliveries.compact`) after connecting.
        public var compactDeliveries: Bool = true

        /// A configuration with defaults for everything else.
        public init(user: String, device: String, token: String, endpoints: [Endpoint]) {
            self.user = user
            self.device = device
            self.token = token
            self.endpoints = endpoints
        }
    }

    /// Changes of the connection, for display and logs.
    public enum ConnectionEvent: Sendable, Hashable {
        /// Connected and subscribed at this endpoint.
        case connected(Endpoint)
        /// The link was lost; reconnecting.
        case lost(Disconnection)
        /// The relay sent this device elsewhere (reason 0x9C / 0x9D).
        case redirected(Endpoint)
    }

    private enum Phase {
        case idle
        case connecting
        case connected(Endpoint)
        case reconnecting
        case closed
    }

    private struct State {
        var phase: Phase = .idle
        /// Configured endpoints, a redirect target first.
        var endpoints: [Endpoint]
        var orderer = DeliveryOrderer<Relay_V1_Delivery>()
        var reconnectTask: Task<Void, Never>?
        /// The refs of compact deliveries in this MQTT session.
        var resolver = CompactDeliveryResolver()
        /// Compact deliveries waiting to be looked up, and whether a lookup runs.
        var unresolved: [CompactDeliveryResolver.Unresolved] = []
        var lookingUp = false
        /// Compact deliveries that could not be resolved nor looked up.
        var lost = 0
    }

    /// The configuration.
    public let configuration: Configuration
    /// `Delivery`s from `d/<device>/m`, deduplicated and in seq order per conversation.
    public let deliveries: AsyncStream<Relay_V1_Delivery>
    /// `Status`es from `d/<device>/s`.
    public let statuses: AsyncStream<Relay_V1_Status>
    /// `Presence` from `d/<device>/p` (newest 256 kept when not read).
    public let presence: AsyncStream<Relay_V1_Presence>
    /// `TypingEvent`s from `d/<device>/t` (newest 256 kept when not read).
    public let typingEvents: AsyncStream<Relay_V1_TypingEvent>
    /// `Event`s from `d/<device>/e`.
    public let events: AsyncStream<Relay_V1_Event>
    /// Connection changes (newest 64 kept when not read).
    public let connectionEvents: AsyncStream<ConnectionEvent>

    private let mosquitto: MosquittoClient
    private let state: Mutex<State>
    private let reconnects = ReconnectSignal()
    private let responses = WaiterTable<String, Relay_V1_Response>()
    private let sendStatuses = WaiterTable<String, Relay_V1_Status>()
    private let deliverySink: AsyncStream<Relay_V1_Delivery>.Continuation
    private let statusSink: AsyncStream<Relay_V1_Status>.Continuation
    private let presenceSink: AsyncStream<Relay_V1_Presence>.Continuation
    private let typingSink: AsyncStream<Relay_V1_TypingEvent>.Continuation
    private let eventSink: AsyncStream<Relay_V1_Event>.Continuation
    private let connectionSink: AsyncStream<ConnectionEvent>.Continuation
    private let pump: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// Creates a client; nothing is sent until `connect()`.
    public init(configuration: Configuration) throws {
        guard !configuration.endpoints.isEmpty else { throw RelayClientError.noEndpoints }
        self.configuration = configuration
        mosquitto = try MosquittoClient(configuration: .init(
            clientID: configuration.device, cleanStart: configuration.cleanStart,
            protocolVersion: configuration.protocolVersion, username: configuration.user,
            password: configuration.token, tls: configuration.tls,
            receiveMaximum: configuration.receiveMaximum))
        state = Mutex(State(endpoints: configuration.endpoints))
        (deliveries, deliverySink) = AsyncStream.makeStream()
        (statuses, statusSink) = AsyncStream.makeStream()
        (presence, presenceSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
        (typingEvents, typingSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
        (events, eventSink) = AsyncStream.makeStream()
        (connectionEvents, connectionSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
        let stream = mosquitto.events
        let task = Task { [weak self] in
            for await event in stream {
                guard let self else { return }
                self.handle(event)
            }
        }
        pump.withLock { $0 = task }
    }

    deinit {
        close()
    }

    private var deviceTopicPrefix: String { "d/" + configuration.device + "/" }

    // MARK: - Connection

    /// Connects: tries the endpoints in order, follows a Server Reference
    /// (CONNACK 0x9C / 0x9D), subscribes `d/<device>/#`. After a lost link the
    /// client reconnects by itself with bounded exponential backoff until
    /// `disconnect()` or `close()`.
    @discardableResult
    public func connect() async throws -> Endpoint {
        try state.withLock { state in
            if case .closed = state.phase { throw RelayClientError.closed }
            state.phase = .connecting
        }
        do {
            return try await establish()
        } catch {
            state.withLock { state in
                if case .connecting = state.phase { state.phase = .idle }
            }
            throw error
        }
    }

    /// Disconnects and stops reconnecting. Pending sends keep waiting until their attempts run out.
    public func disconnect() {
        let task = state.withLock { state -> Task<Void, Never>? in
            if case .closed = state.phase {} else { state.phase = .idle }
            defer { state.reconnectTask = nil }
            return state.reconnectTask
        }
        task?.cancel()
        try? mosquitto.disconnect()
    }

    /// Disconnects for good and finishes every stream.
    public func close() {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.phase = .closed
            defer { state.reconnectTask = nil }
            return state.reconnectTask
        }
        task?.cancel()
        mosquitto.close()
        responses.failAll(RelayClientError.closed)
        sendStatuses.failAll(RelayClientError.closed)
        pump.withLock { $0?.cancel() }
        deliverySink.finish()
        statusSink.finish()
        presenceSink.finish()
        typingSink.finish()
        eventSink.finish()
        connectionSink.finish()
    }

    /// One round over the endpoints; returns the one connected to.
    private func establish() async throws -> Endpoint {
        var candidates = state.withLock { $0.endpoints }
        var failures: [String] = []
        var redirects = 0
        var index = 0
        var properties = MosquittoProperties()
        if configuration.protocolVersion == .v5 { properties.sessionExpiryInterval = configuration.sessionExpiry }
        while index < candidates.count {
            try Task.checkCancellation()
            let endpoint = candidates[index]
            index += 1
            do {
                _ = try await mosquitto.connect(host: endpoint.host, port: endpoint.port,
                                                keepAlive: configuration.keepAlive, properties: properties,
                                                timeout: configuration.connectTimeout)
                let suback = try await mosquitto.subscribe(deviceTopicPrefix + "#", qos: 1,
                                                           timeout: configuration.connectTimeout)
                if let code = suback.reasonCodes.first, code >= 0x80 {
                    try? mosquitto.disconnect()
                    throw RelayClientError.subscriptionRefused(reasonCode: code)
                }
                let stillWanted = state.withLock { state -> Bool in
                    switch state.phase {
                    case .closed, .idle: return false
                    default:
                        state.phase = .connected(endpoint)
                        return true
                    }
                }
                guard stillWanted else {
                    try? mosquitto.disconnect()
                    throw RelayClientError.closed
                }
                connectionSink.yield(.connected(endpoint))
                reconnects.advance()
                if configuration.compactDeliveries {
                    // Not awaited: until the relay takes it, deliveries come in
                    // the full form, which needs nothing; a failure leaves them so.
                    Task { [weak self] in _ = try? await self?.askForCompactDeliveries() }
                }
                return endpoint
            } catch MosquittoClientError.refused(let ack) {
                if Self.isMoved(ack.reasonCode), let reference = ack.properties.serverReference,
                   redirects < configuration.maximumRedirects,
                   let target = Self.firstEndpoint(in: reference) {
                    redirects += 1
                    candidates.insert(target, at: index)
                    preferEndpoint(target)
                    connectionSink.yield(.redirected(target))
                    failures.append("\(endpoint): moved to \(target) (0x\(String(ack.reasonCode, radix: 16)))")
                    continue
                }
                if candidates.count == 1 {
                    throw RelayClientError.connectRefused(reasonCode: ack.reasonCode,
                                                          reason: ack.properties.reasonString)
                }
                failures.append("\(endpoint): refused 0x\(String(ack.reasonCode, radix: 16))"
                                + (ack.properties.reasonString.map { " \($0)" } ?? ""))
            } catch let error as RelayClientError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        throw RelayClientError.unreachable(failures)
    }

    /// 0x9C Use another server, 0x9D Server moved.
    private static func isMoved(_ reasonCode: UInt8) -> Bool { reasonCode == 0x9C || reasonCode == 0x9D }

    /// A Server Reference may list several servers separated by spaces; the first is used.
    private static func firstEndpoint(in reference: String) -> Endpoint? {
        guard let first = reference.split(separator: " ").first else { return nil }
        return try? Endpoint(parsing: String(first))
    }

    private func preferEndpoint(_ endpoint: Endpoint) {
        state.withLock { state in
            state.endpoints.removeAll { $0 == endpoint }
            state.endpoints.insert(endpoint, at: 0)
        }
    }

    private func linkLost(_ disconnection: Disconnection) {
        if let code = disconnection.reasonCode, Self.isMoved(code),
           let reference = disconnection.properties.serverReference,
           let target = Self.firstEndpoint(in: reference) {
            preferEndpoint(target)
            connectionSink.yield(.redirected(target))
        }
        let start = state.withLock { state -> Bool in
            guard case .connected = state.phase else { return false }
            state.phase = .reconnecting
            return true
        }
        guard start else { return }
        connectionSink.yield(.lost(disconnection))
        let task = Task { [weak self] in
            guard let self else { return }
            await self.reconnectLoop()
        }
        state.withLock { $0.reconnectTask = task }
    }

    private func reconnectLoop() async {
        var delay = Duration.zero
        while !Task.isCancelled {
            let wanted = state.withLock { state -> Bool in
                if case .reconnecting = state.phase { return true }
                return false
            }
            guard wanted else { return }
            if delay > .zero {
                // Full jitter over [delay/2, delay], so devices of a failed region spread out.
                let millis = max(1, Int64(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000))
                try? await Task.sleep(for: .milliseconds(Int64.random(in: (millis / 2)...millis)))
            }
            do {
                _ = try await establish()
                return
            } catch {
                delay = delay == .zero ? configuration.reconnectDelay : min(delay * 2, configuration.maximumReconnectDelay)
            }
        }
    }

    // MARK: - Sending

    /// Sends a message: publishes a `Send` on `s/<conversation>` at QoS 1 with
    /// a fresh client message id, and resends it with the same id when no
    /// PUBACK comes within `sendTimeout` or the link comes back, up to
    /// `maximumSendAttempts` (the relay stores it once). Returns the PUBACK
    /// reason code and, when `Status SEQUENCED` arrives within
    /// `statusTimeout`, the message's epoch and seq.
    /// `clientMessageID` replaces the fresh id (printable ASCII, at most 64 bytes).
    public func send(conversation: String, ciphertext: Data, deviceCiphertexts: [String: Data] = [:],
                     replyTo: UInt64 = 0, ttlSeconds: UInt32 = 0, clientMessageID: String? = nil) async throws -> SendReceipt {
        guard ConversationID(rawValue: conversation) != nil else {
            throw RelayClientError.invalidConversation(conversation)
        }
        let id = clientMessageID ?? UUID().uuidString.lowercased()
        let envelope = Envelopes.send(clientMessageID: id, ciphertext: ciphertext,
                                      deviceCiphertexts: deviceCiphertexts, replyTo: replyTo, ttlSeconds: ttlSeconds)
        let payload: [UInt8] = try envelope.serializedBytes()
        let topic = Envelopes.sendTopic(conversation)
        sendStatuses.expect(id)
        defer { sendStatuses.forget(id) }

        for attempt in 1...max(1, configuration.maximumSendAttempts) {
            let generation = reconnects.generation
            guard let ack = try await publishOnce(topic: topic, payload: payload, reconnectedAfter: generation) else {
                continue  // timed out or reconnected: resend with the same id
            }
            guard ack.isSuccess else {
                throw RelayClientError.sendRefused(reasonCode: ack.reasonCode, code: nil,
                                                   message: ack.properties.reasonString)
            }
            let status = try? await sendStatuses.wait(for: id, timeout: configuration.statusTimeout)
            if let status, status.kind == .refused {
                throw RelayClientError.sendRefused(reasonCode: 0, code: status.error.code, message: status.error.message)
            }
            let sequenced = status?.kind == .sequenced ? status : nil
            return SendReceipt(clientMessageID: id, conversation: conversation, reasonCode: ack.reasonCode,
                               attempts: attempt, epoch: sequenced?.epoch, seq: sequenced?.seq)
        }
        throw RelayClientError.sendFailed(clientMessageID: id, attempts: configuration.maximumSendAttempts)
    }

    /// Publishes once at QoS 1; nil when the PUBACK did not come within
    /// `sendTimeout` or a new connection was established meanwhile.
    private func publishOnce(topic: String, payload: [UInt8], reconnectedAfter generation: UInt64) async throws
        -> PublishAcknowledgement?
    {
        enum Outcome: Sendable {
            case acknowledged(PublishAcknowledgement)
            case retry
        }
        let mosquitto = self.mosquitto
        let timeout = configuration.sendTimeout
        let reconnects = self.reconnects
        let outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                do {
                    return .acknowledged(try await mosquitto.publish(topic: topic, payload: payload, qos: 1,
                                                                     timeout: timeout))
                } catch MosquittoClientError.timedOut {
                    return .retry
                }
            }
            group.addTask {
                await reconnects.wait(beyond: generation)
                return .retry
            }
            defer { group.cancelAll() }
            return try await group.next() ?? .retry
        }
        if case .acknowledged(let ack) = outcome { return ack }
        return nil
    }

    /// Marks everything up to `seq` in `conversation` read: a `Receipt` on `r/<conversation>`, QoS 1.
    public func markRead(conversation: String, upTo seq: UInt64, epoch: UInt32 = 0) async throws {
        guard ConversationID(rawValue: conversation) != nil else {
            throw RelayClientError.invalidConversation(conversation)
        }
        let payload: [UInt8] = try Envelopes.receipt(epoch: epoch, readUpTo: seq).serializedBytes()
        try await publishAcknowledged(topic: Envelopes.receiptTopic(conversation), payload: payload)
    }

    /// Typing on or off in `conversation`: a `Typing` on `t/<conversation>`, QoS 0, not retried.
    public func typing(conversation: String, on: Bool) throws {
        guard ConversationID(rawValue: conversation) != nil else {
            throw RelayClientError.invalidConversation(conversation)
        }
        let payload: [UInt8] = try Envelopes.typing(on).serializedBytes()
        try mosquitto.publish(topic: Envelopes.typingTopic(conversation), payload: payload, qos: 0)
    }

    private func publishAcknowledged(topic: String, payload: [UInt8],
                                     properties: MosquittoProperties = MosquittoProperties()) async throws {
        let ack: PublishAcknowledgement
        do {
            ack = try await mosquitto.publish(topic: topic, payload: payload, qos: 1, properties: properties,
                                              timeout: configuration.sendTimeout)
        } catch MosquittoClientError.timedOut {
            throw RelayClientError.publishTimedOut(topic: topic)
        }
        guard ack.isSuccess else { throw RelayClientError.publishRefused(topic: topic, reasonCode: ack.reasonCode) }
    }

    // MARK: - Requests

    /// Sends `request` on `q/<method>` and waits (at most `requestTimeout`) for
    /// its `Response`: with MQTT 5 through Response Topic `d/<device>/a` and
    /// Correlation Data, with MQTT 3.1.1 through `request_id`. A relay error
    /// comes back as `Response.error`, not thrown.
    public func request(_ method: String, _ request: Relay_V1_Request) async throws -> Relay_V1_Response {
        let id = UUID().uuidString.lowercased()
        var request = request
        var properties = MosquittoProperties()
        if configuration.protocolVersion == .v5 {
            properties.responseTopic = deviceTopicPrefix + DeviceChannel.answers.rawValue
            properties.correlationData = Array(id.utf8)
        } else {
            request.requestID = id
        }
        let payload: [UInt8] = try request.serializedBytes()
        responses.expect(id)
        defer { responses.forget(id) }
        let start = ContinuousClock.now
        try await publishAcknowledged(topic: Envelopes.requestTopic(method), payload: payload, properties: properties)
        let remaining = configuration.requestTimeout - (ContinuousClock.now - start)
        do {
            return try await responses.wait(for: id, timeout: max(remaining, .milliseconds(1)))
        } catch MosquittoClientError.timedOut {
            throw RelayClientError.requestTimedOut(method: method)
        }
    }

    // MARK: - Gaps and history

    /// Missing seq ranges per conversation (deliveries held back behind them).
    public var gaps: [String: [ClosedRange<UInt64>]] { state.withLock { $0.orderer.gaps } }

    /// The highest seq yielded per conversation, to persist and pass back with `resume(after:)`.
    public var lastReleasedSeqs: [String: UInt64] { state.withLock { $0.orderer.lastReleasedByConversation } }

    /// Continues dedup after seqs an earlier run persisted (call before `connect()`).
    public func resume(after lastReleased: [String: UInt64]) {
        state.withLock { $0.orderer = DeliveryOrderer(resumingAfter: lastReleased) }
    }

    /// Asks `history.sync` for one page of `conversation` after `seq`.
    public func history(conversation: String, after seq: UInt64, limit: UInt32 = 100) async throws -> Relay_V1_History {
        var request = Relay_V1_Request()
        request.historySync.conversation = conversation
        request.historySync.afterSeq = seq
        request.historySync.limit = limit
        let response = try await self.request(RequestMethod.historySync.rawValue, request)
        return response.history
    }

    /// Fills every gap from history: the fetched messages go through the
    /// orderer (so `deliveries` yields them in order, once), and a gap that
    /// history cannot fill (expired messages) is skipped. At most `maximumPages`
    /// requests per conversation. Returns how many deliveries were released.
    @discardableResult
    public func fillGaps(limit: UInt32 = 100, maximumPages: Int = 20) async throws -> Int {
        var released = 0
        for (conversation, gaps) in gaps {
            guard let end = gaps.last?.upperBound else { continue }
            var pages = 0
            while pages < maximumPages {
                pages += 1
                let after = state.withLock { $0.orderer.lastReleased(in: conversation) } ?? 0
                guard after < end else { break }
                let page = try await history(conversation: conversation, after: after, limit: limit)
                for message in page.messages {
                    released += deliver(message)
                }
                if !page.more || page.messages.isEmpty { break }
            }
            // Whatever history did not return before the last gap's end is gone.
            released += state.withLock { state -> Int in
                guard let last = state.orderer.gaps(in: conversation).last?.upperBound, last <= end else { return 0 }
                let leftovers = state.orderer.skip(conversation: conversation, through: last)
                for message in leftovers { deliverySink.yield(message) }
                return leftovers.count
            }
        }
        return released
    }

    // MARK: - Compact deliveries

    /// Deliveries that were compact and could be neither resolved nor looked
    /// up (docs/protocol.md, "Compact deliveries").
    public var unresolvedDeliveries: Int { state.withLock { $0.lost } }

    /// Asks for compact deliveries (`q/deliveries.compact`) and takes in the
    /// relay's table; returns it.
    @discardableResult
    public func askForCompactDeliveries(_ on: Bool = true) async throws -> Relay_V1_CompactRefs {
        var request = Relay_V1_Request()
        request.compactDeliveries.on = on
        let response = try await self.request(RequestMethod.deliveriesCompact.rawValue, request)
        if response.hasError {
            throw RelayClientError.requestFailed(method: RequestMethod.deliveriesCompact.rawValue,
                                                 code: response.error.code, message: response.error.message)
        }
        state.withLock { _ = $0.resolver.learn(response.compactRefs) }
        return response.compactRefs
    }

    /// Resolves a delivery from `d/<device>/m` (in arrival order) and feeds it on.
    private func receive(_ delivery: Relay_V1_Delivery) {
        let (resolution, startLookup) = state.withLock { state -> (CompactDeliveryResolver.Resolution, Bool) in
            let resolution = state.resolver.resolve(delivery)
            guard case .unresolved(let unresolved) = resolution else { return (resolution, false) }
            state.unresolved.append(unresolved)
            defer { state.lookingUp = true }
            return (resolution, !state.lookingUp)
        }
        switch resolution {
        case .resolved(let full):
            _ = deliver(full)
        case .unresolved:
            if startLookup { Task { [weak self] in await self?.lookUpUnresolved() } }
        }
    }

    /// Looks the unresolved deliveries up: the relay's table names their
    /// conversations, `history.sync` has them in full.
    private func lookUpUnresolved() async {
        let refs = try? await askForCompactDeliveries(configuration.compactDeliveries)
        while true {
            let next = state.withLock { state -> CompactDeliveryResolver.Unresolved? in
                guard !state.unresolved.isEmpty else {
                    state.lookingUp = false
                    return nil
                }
                return state.unresolved.removeFirst()
            }
            guard let unresolved = next else { return }
            var found = false
            if let refs, let located = CompactDeliveryResolver.locate(unresolved, in: refs),
               let page = try? await history(conversation: located.conversation.rawValue, after: located.seq - 1, limit: 1) {
                for message in page.messages where message.seq == located.seq {
                    found = true
                    _ = deliver(message)
                }
            }
            if !found { state.withLock { $0.lost += 1 } }
        }
    }

    /// Feeds one delivery through the orderer and yields what it releases.
    private func deliver(_ delivery: Relay_V1_Delivery) -> Int {
        // Yielded under the lock so that concurrent callers (the event pump,
        // fillGaps) cannot interleave released runs out of order.
        state.withLock { state in
            let released = state.orderer.receive(delivery, conversation: delivery.conversation, seq: delivery.seq).payloads
            for message in released { deliverySink.yield(message) }
            return released.count
        }
    }

    // MARK: - Incoming

    private func handle(_ event: MosquittoEvent) {
        switch event {
        case .message(let message):
            route(message)
        case .disconnected(let disconnection):
            linkLost(disconnection)
        case .connectAcknowledged(let ack):
            // In order with the messages: a new MQTT session's deliveries use a new table.
            if ack.isAccepted && !ack.sessionPresent { state.withLock { $0.resolver.clear() } }
        case .published, .subscribed:
            break
        }
    }

    private func route(_ message: MosquittoMessage) {
        let prefix = deviceTopicPrefix
        guard message.topic.hasPrefix(prefix) else { return }
        let channel = message.topic.dropFirst(prefix.count)
        switch DeviceChannel(rawValue: String(channel)) {
        case .messages:
            guard let delivery = try? Relay_V1_Delivery(serializedBytes: message.payload) else { return }
            receive(delivery)
        case .status:
            guard let status = try? Relay_V1_Status(serializedBytes: message.payload) else { return }
            if status.kind == .sequenced || status.kind == .refused, !status.clientMessageID.isEmpty {
                sendStatuses.resolve(status.clientMessageID, status)
            }
            statusSink.yield(status)
        case .presence:
            guard let presence = try? Relay_V1_Presence(serializedBytes: message.payload) else { return }
            presenceSink.yield(presence)
        case .typing:
            guard let typing = try? Relay_V1_TypingEvent(serializedBytes: message.payload) else { return }
            typingSink.yield(typing)
        case .events:
            guard let event = try? Relay_V1_Event(serializedBytes: message.payload) else { return }
            eventSink.yield(event)
        case .answers:
            guard let response = try? Relay_V1_Response(serializedBytes: message.payload) else { return }
            if let correlation = message.properties.correlationData, let id = String(bytes: correlation, encoding: .utf8) {
                responses.resolve(id, response)
            } else if !response.requestID.isEmpty {
                responses.resolve(response.requestID, response)
            }
        case nil:
            break
        }
    }
}
