import DequeModule
import MQTT
import NIOCore

/// The protocol logic of one MQTT connection, without I/O (the shape of
/// postgres-nio's ConnectionStateMachine). Every event returns an `Action`
/// for the channel handler to perform and appends the packets to send to
/// `output`; the handler is the only place that touches the network, the
/// router, timers or the session registry.
struct ConnectionStateMachine {
    /// What the handler must do after an event.
    enum Action {
        /// Nothing beyond writing `output`.
        case none
        /// Ask the authenticator about this CONNECT.
        case authenticate(ConnectPacket)
        /// Open (or resume, or take over) the session in the registry.
        case openSession(SessionRequest)
        /// CONNACK is in `output`: start keep-alive (if any) and process
        /// packets that arrived before it.
        case connected(keepAlive: TimeAmount?)
        /// Hand an accepted PUBLISH to the router, then call `publishRouted`.
        case route(MQTTMessage, packetIdentifier: UInt16?)
        /// Hand a validated SUBSCRIBE to the router, then call `subscribeRouted`.
        case subscribe(packetIdentifier: UInt16, MQTTSubscribeRequest, refused: [Int: ReasonCode], count: Int)
        /// Hand an UNSUBSCRIBE to the router, then call `unsubscribeRouted`.
        case unsubscribe(packetIdentifier: UInt16, [String], refused: [Int: ReasonCode], count: Int)
        /// Write `output`, then close the connection.
        case close(Closing)
    }

    /// What opening a session needs from the registry.
    struct SessionRequest: Equatable {
        var clientIdentifier: String
        var cleanStart: Bool
        var principal: MQTTPrincipal
        /// Seconds the session is to outlive the connection.
        var sessionExpiry: UInt32
    }

    /// How a connection ends: what to do with its will and its session.
    struct Closing {
        /// Why, for logs.
        var reason: CloseReason
        /// A will to publish now (`delay` 0) or after `delay` seconds unless
        /// the session resumes first (MQTT 5.0 §3.1.3.2.2).
        var will: (will: ConnectPacket.Will, delay: UInt32)?
        /// The session to keep (nil when the connection never got one).
        var session: SessionState?
        /// Seconds the session outlives the connection (0: it ends now).
        var sessionExpiry: UInt32
        /// The session goes on in the connection that took it over: the
        /// registry keeps it for that one instead of storing or ending it.
        var handsOver = false
        /// The last packet written tells the client why it is closed (a
        /// DISCONNECT or a refusing CONNACK): the handler shuts its output
        /// down and reads and discards input for a bounded time before
        /// closing, so that a client still writing reads the reason instead
        /// of a connection reset.
        var drainsInput = false
    }

    /// Why a connection closed.
    enum CloseReason: Equatable {
        case clientDisconnected(ReasonCode)
        case protocolViolation(ReasonCode)
        case keepAliveTimeout
        case connectTimeout
        case takenOver
        case serverDisconnect(ReasonCode)
        case connectionLost
        case refused(ReasonCode)
        case slowConsumer
    }

    /// The connecting states are boxed (`indirect`): a CONNECT is about
    /// 600 bytes inline, and the state of every connected client would be
    /// that large for the sake of a few milliseconds of connecting.
    enum State {
        case awaitingConnect
        indirect case authenticating(ConnectPacket)
        indirect case openingSession(Pending)
        case connected(Connected)
        case closed
    }

    /// A CONNECT that passed authentication, waiting for its session.
    struct Pending {
        var connect: ConnectPacket
        var clientIdentifier: String
        var assignedIdentifier: Bool
        var principal: MQTTPrincipal
        var sessionExpiry: UInt32
        /// The properties of the CONNACK, already within the client's
        /// Maximum Packet Size.
        var ackProperties: MQTTProperties
        /// The keep alive in force (the server's when it lowered the client's).
        var keepAlive: UInt16
    }

    /// Everything negotiated for a live connection.
    struct Connected {
        var version: ProtocolVersion
        var clientIdentifier: String
        var session: SessionState
        /// Boxed: few clients register a will, and inline it would add
        /// about 300 bytes to every connection.
        var will: WillBox?
        var sessionExpiry: UInt32
        /// At most this many QoS 1/2 messages in flight to the client.
        var inflightLimit: Int
        var clientMaximumPacketSize: UInt32?
        var clientTopicAliasMaximum: UInt16
        /// False when the client set Request Problem Information to 0: its
        /// acknowledgements then carry no Reason String or User Properties
        /// (MQTT 5.0 §3.1.2.11.7).
        var problemInformation = true
        var outboundAliases: [String: UInt16] = [:]
        var inboundAliases: [UInt16: String] = [:]
        /// QoS 1/2 PUBLISHes received and not yet acknowledged, in order
        /// (PUBACKs go out in the order PUBLISHes came, MQTT 5.0 §4.6).
        /// A `Deque`: no storage until the client's first QoS 1/2 PUBLISH.
        var pendingAcks = Deque<PendingAck>()
    }

    /// Small on purpose (a few dozen bytes): it carries only the two
    /// properties an acknowledgement may have, not a whole `MQTTProperties`.
    /// A registered will, held by reference.
    final class WillBox {
        let will: ConnectPacket.Will

        init(_ will: ConnectPacket.Will) {
            self.will = will
        }
    }

    struct PendingAck {
        var packetIdentifier: UInt16
        var qos: QoS
        var reasonCode: ReasonCode?
        /// The router's Reason String for the acknowledgement (MQTT 5 only).
        var reasonString: String? = nil
        /// The router's User Properties for the acknowledgement (MQTT 5 only).
        var userProperties: [UserProperty] = []

        var properties: MQTTProperties {
            var properties = MQTTProperties()
            properties.reasonString = reasonString
            properties.userProperties = userProperties
            return properties
        }
    }

    /// The server's configuration, shared by reference: inline it would be
    /// ~50 bytes more in every connection.
    final class SharedConfiguration: Sendable {
        let configuration: MQTTServerConfiguration

        init(_ configuration: MQTTServerConfiguration) {
            self.configuration = configuration
        }
    }

    private let shared: SharedConfiguration
    var configuration: MQTTServerConfiguration { shared.configuration }
    private(set) var state: State = .awaitingConnect
    /// Credit tickets of deliveries written, dropped, or queued for a slow
    /// client; the handler releases them (`takeReleasedTickets`).
    private var releasedTickets: [CreditTicket] = []

    /// Queued deliveries past this many no longer hold their publisher's
    /// credit: the client is slow, and meets its queue cap instead.
    var slowClientQueue: Int { min(512, configuration.maximumQueuedMessages) }

    /// Acknowledgement callbacks of deliveries the client completed; the
    /// handler runs them (`takeAcknowledged`).
    private var acknowledged: [@Sendable () -> Void] = []

    /// Hands over the acknowledgement callbacks to run.
    mutating func takeAcknowledged() -> [@Sendable () -> Void] {
        guard !acknowledged.isEmpty else { return [] }
        // Hands the storage over: keeping its capacity would copy it (the
        // caller holds it), and an idle connection would keep it.
        defer { acknowledged = [] }
        return acknowledged
    }

    /// Hands over the credit tickets to release.
    mutating func takeReleasedTickets() -> [CreditTicket] {
        guard !releasedTickets.isEmpty else { return [] }
        defer { releasedTickets = [] }
        return releasedTickets
    }

    init(configuration: MQTTServerConfiguration) {
        self.init(shared: SharedConfiguration(configuration))
    }

    /// A machine for one of the server's connections.
    init(shared: SharedConfiguration) {
        self.shared = shared
    }

    /// The negotiated protocol version once CONNECT is decoded.
    var version: ProtocolVersion? {
        switch state {
        case .authenticating(let c): return c.protocolVersion
        case .openingSession(let p): return p.connect.protocolVersion
        case .connected(let c): return c.version
        case .awaitingConnect, .closed: return nil
        }
    }

    var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: - Connecting

    /// A CONNECT arrived (the first packet).
    mutating func connectReceived(_ connect: ConnectPacket, output: inout [MQTTPacket]) -> Action {
        guard case .awaitingConnect = state else {
            return protocolViolation(.protocolError, output: &output)
        }
        let v5 = connect.protocolVersion == .v5
        if connect.protocolVersion == .v31 {
            // MQTT 3.1 §3.1: 1 to 23 characters, else return code 2.
            let length = connect.clientIdentifier.unicodeScalars.count
            if length == 0 || length > MQTTLimits.maximumClientIdentifierLengthV31 {
                return refuse(.clientIdentifierNotValid, connect: connect, output: &output)
            }
        }
        if connect.clientIdentifier.utf8.count > MQTTLimits.maximumClientIdentifierLength {
            return refuse(.clientIdentifierNotValid, connect: connect, output: &output)
        }
        if connect.clientIdentifier.isEmpty && !v5 && !connect.cleanStart {
            // MQTT 3.1.1 §3.1.3.1: an empty id needs Clean Session.
            return refuse(.clientIdentifierNotValid, connect: connect, output: &output)
        }
        if v5 && connect.properties.authenticationMethod != nil {
            // Enhanced authentication is not offered (MQTT 5.0 §4.12).
            return refuse(.badAuthenticationMethod, connect: connect, output: &output)
        }
        if let will = connect.will {
            if will.retain && !configuration.retainAvailable {
                return refuse(.retainNotSupported, connect: connect, output: &output)
            }
            do {
                try MQTTTopic.validateName(will.topic)
            } catch {
                return refuse(.topicNameInvalid, connect: connect, output: &output)
            }
        }
        state = .authenticating(connect)
        return .authenticate(connect)
    }

    /// The authenticator decided.
    mutating func authenticated(_ result: MQTTAuthenticationResult, output: inout [MQTTPacket]) -> Action {
        guard case .authenticating(let connect) = state else { return .none }
        switch result {
        case .reject(let code, let properties):
            return refuse(code, connect: connect, properties: properties, output: &output)
        case .accept(let principal):
            var identifier = connect.clientIdentifier
            let assigned = identifier.isEmpty
            if assigned { identifier = Self.makeClientIdentifier() }
            // Session expiry (MQTT 5.0 §3.1.2.11.2; 3.1.1 Clean Session 0 keeps it).
            var expiry: UInt32
            if connect.protocolVersion == .v5 {
                expiry = connect.properties.sessionExpiryInterval ?? 0
            } else {
                expiry = connect.cleanStart ? 0 : MQTTLimits.sessionNeverExpires
            }
            var lowered = false
            if let cap = configuration.maximumSessionExpiry, expiry > cap {
                expiry = cap
                lowered = true
            }
            let (properties, keepAlive) = connAckProperties(connect, assignedIdentifier: assigned ? identifier : nil, expiry: lowered ? expiry : nil)
            guard let fitted = Self.fitConnAck(ConnAckPacket(reasonCode: .success, properties: properties), within: connect.clientMaximumPacketSize) else {
                // Not even the properties the client needs fit its Maximum
                // Packet Size: close without CONNACK (MQTT 5.0 §3.1.2.11.4),
                // before the session is touched.
                state = .closed
                return .close(Closing(reason: .refused(.packetTooLarge), will: nil, session: nil, sessionExpiry: 0))
            }
            state = .openingSession(Pending(connect: connect, clientIdentifier: identifier, assignedIdentifier: assigned, principal: principal, sessionExpiry: expiry, ackProperties: fitted.properties, keepAlive: keepAlive))
            return .openSession(SessionRequest(clientIdentifier: identifier, cleanStart: connect.cleanStart, principal: principal, sessionExpiry: expiry))
        }
    }

    /// The registry opened the session: `resumed` carries the state of an
    /// existing session when Clean Start was 0 and one existed.
    mutating func sessionOpened(resumed: SessionState?, now: NIODeadline, output: inout [MQTTPacket]) -> Action {
        guard case .openingSession(let pending) = state else { return .none }
        let connect = pending.connect
        let v5 = connect.protocolVersion == .v5
        let ack = ConnAckPacket(sessionPresent: resumed != nil, reasonCode: .success, properties: pending.ackProperties)
        let expiry = pending.sessionExpiry
        let keepAlive = pending.keepAlive

        let clientReceiveMaximum = v5 ? Int(connect.properties.receiveMaximum ?? MQTTLimits.defaultReceiveMaximum) : Int.max
        let inflightLimit = min(clientReceiveMaximum, Int(configuration.maximumInflightOutbound), 65_000)
        var connected = Connected(
            version: connect.protocolVersion,
            clientIdentifier: pending.clientIdentifier,
            session: resumed ?? SessionState(),
            will: connect.will.map(WillBox.init),
            sessionExpiry: expiry,
            inflightLimit: max(1, inflightLimit),
            clientMaximumPacketSize: connect.clientMaximumPacketSize,
            clientTopicAliasMaximum: v5 ? min(connect.properties.topicAliasMaximum ?? 0, Self.outboundAliasCap) : 0
        )
        connected.problemInformation = connect.properties.requestProblemInformation != 0
        output.append(.connack(ack))

        // Resume: resend what was in flight, DUP set, in order (MQTT 5.0 §4.4).
        for (id, entry) in connected.session.outboundInOrder {
            if entry.released {
                output.append(.pubrel(AckPacket(packetIdentifier: id)))
            } else if let publish = makePublish(entry.delivery, packetIdentifier: id, dup: true, connected: &connected, now: now) {
                output.append(.publish(publish))
            } else {
                connected.session.completeOutbound(id)
            }
        }
        drainQueue(&connected, now: now, output: &output)
        state = .connected(connected)
        return .connected(keepAlive: keepAlive == 0 ? nil : .seconds(Int64(keepAlive)))
    }

    /// The properties of a successful CONNACK (none for 3.1 and 3.1.1), and
    /// the keep alive in force (MQTT 5.0 §3.1.2.10, §3.2.2.3).
    private func connAckProperties(_ connect: ConnectPacket, assignedIdentifier: String?, expiry lowered: UInt32?) -> (MQTTProperties, keepAlive: UInt16) {
        var properties = MQTTProperties()
        var keepAlive = connect.keepAlive
        guard connect.protocolVersion == .v5 else { return (properties, keepAlive) }
        properties.sessionExpiryInterval = lowered
        if let cap = configuration.maximumKeepAlive, keepAlive == 0 || keepAlive > cap {
            keepAlive = cap
            properties.serverKeepAlive = cap
        }
        properties.receiveMaximum = configuration.receiveMaximum
        properties.maximumPacketSize = configuration.maximumPacketSize
        properties.topicAliasMaximum = configuration.topicAliasMaximum
        properties.retainAvailable = configuration.retainAvailable ? 1 : 0
        properties.wildcardSubscriptionAvailable = configuration.wildcardSubscriptionAvailable ? 1 : 0
        properties.subscriptionIdentifierAvailable = configuration.subscriptionIdentifiersAvailable ? 1 : 0
        properties.sharedSubscriptionAvailable = configuration.sharedSubscriptionsAvailable ? 1 : 0
        properties.assignedClientIdentifier = assignedIdentifier
        return (properties, keepAlive)
    }

    /// `ack` within the client's Maximum Packet Size `limit` (MQTT 5.0
    /// §3.1.2.11.4, §3.2.2.3.9–10), or nil when it cannot be: optional
    /// properties are dropped, the least needed first, until it fits.
    ///
    /// A refusing CONNACK may lose all its properties: the reason code is
    /// what the client needs, and the connection ends anyway. A successful
    /// one loses Reason String and User Properties, then Response
    /// Information and Server Reference, then properties that say what their
    /// absence says too (Retain, Wildcard, Subscription Identifier and Shared
    /// Subscription Available 1, Receive Maximum 65,535, Maximum QoS 2,
    /// Maximum Packet Size at the protocol's maximum), then Topic Alias
    /// Maximum (absent means 0: the client uses no aliases). What is left
    /// binds the client (Session Expiry, Server Keep Alive, Assigned Client
    /// Identifier, limits below the defaults, features not available): when
    /// it does not fit, nil, and the connection closes without CONNACK.
    static func fitConnAck(_ ack: ConnAckPacket, within limit: UInt32?) -> ConnAckPacket? {
        guard let limit else { return ack }
        var ack = ack
        func fits() -> Bool { MQTTPacket.connack(ack).encodedLength(version: .v5) <= Int(limit) }
        if fits() { return ack }
        if ack.reasonCode.isFailure {
            ack.properties = MQTTProperties()
            return fits() ? ack : nil
        }
        var p = ack.properties
        let steps: [(inout MQTTProperties) -> Void] = [
            { $0.reasonString = nil; $0.userProperties = [] },
            { $0.responseInformation = nil; $0.serverReference = nil },
            {
                if $0.retainAvailable == 1 { $0.retainAvailable = nil }
                if $0.wildcardSubscriptionAvailable == 1 { $0.wildcardSubscriptionAvailable = nil }
                if $0.subscriptionIdentifierAvailable == 1 { $0.subscriptionIdentifierAvailable = nil }
                if $0.sharedSubscriptionAvailable == 1 { $0.sharedSubscriptionAvailable = nil }
                if $0.receiveMaximum == MQTTLimits.defaultReceiveMaximum { $0.receiveMaximum = nil }
                if $0.maximumQoS == 2 { $0.maximumQoS = nil }
                if $0.maximumPacketSize == MQTTLimits.maximumPacketSize { $0.maximumPacketSize = nil }
            },
            { $0.topicAliasMaximum = nil },
        ]
        for step in steps {
            step(&p)
            ack.properties = p
            if fits() { return ack }
        }
        return nil
    }

    // MARK: - Packets from the client

    /// A packet arrived after CONNECT.
    mutating func packetReceived(_ packet: MQTTPacket, now: NIODeadline, output: inout [MQTTPacket]) -> Action {
        guard case .connected(var c) = state else {
            if case .closed = state { return .none }
            return protocolViolation(.protocolError, output: &output)
        }
        // Avoid a copy-on-write of the whole state while it is mutated.
        state = .closed
        let action: Action
        switch packet {
        case .publish(let publish):
            action = publishReceived(publish, connected: &c, now: now, output: &output)
        case .puback(let ack):
            if let entry = c.session.outbound[ack.packetIdentifier] {
                guard entry.delivery.qos == .atLeastOnce else {
                    // PUBACK for a QoS 2 message (MQTT 5.0 §4.3.3, 3.1.1 §4.8).
                    state = .connected(c)
                    return protocolViolation(.protocolError, output: &output)
                }
                if let done = c.session.completeOutbound(ack.packetIdentifier)?.delivery.onAcknowledged {
                    acknowledged.append(done)
                }
                drainQueue(&c, now: now, output: &output)
            }
            action = .none
        case .pubrec(let ack):
            if let entry = c.session.outbound[ack.packetIdentifier] {
                guard entry.delivery.qos == .exactlyOnce else {
                    // PUBREC for a QoS 1 message (MQTT 5.0 §4.3.2, 3.1.1 §4.8).
                    state = .connected(c)
                    return protocolViolation(.protocolError, output: &output)
                }
                if ack.reasonCode.isFailure {
                    c.session.completeOutbound(ack.packetIdentifier)
                    drainQueue(&c, now: now, output: &output)
                } else {
                    _ = c.session.releaseOutbound(ack.packetIdentifier)
                    output.append(.pubrel(AckPacket(packetIdentifier: ack.packetIdentifier)))
                }
            } else {
                output.append(.pubrel(AckPacket(packetIdentifier: ack.packetIdentifier, reasonCode: .packetIdentifierNotFound)))
            }
            action = .none
        case .pubcomp(let ack):
            if let entry = c.session.outbound[ack.packetIdentifier] {
                guard entry.delivery.qos == .exactlyOnce, entry.released else {
                    // PUBCOMP for a QoS 1 message, or for a QoS 2 message
                    // the server has not released (MQTT 5.0 §4.3.3, 3.1.1 §4.8).
                    state = .connected(c)
                    return protocolViolation(.protocolError, output: &output)
                }
                if let done = c.session.completeOutbound(ack.packetIdentifier)?.delivery.onAcknowledged {
                    acknowledged.append(done)
                }
                drainQueue(&c, now: now, output: &output)
            }
            action = .none
        case .pubrel(let ack):
            let known = c.session.incomingQoS2.remove(ack.packetIdentifier) != nil
            output.append(.pubcomp(AckPacket(packetIdentifier: ack.packetIdentifier, reasonCode: known ? .success : .packetIdentifierNotFound)))
            action = .none
        case .subscribe(let subscribe):
            action = subscribeReceived(subscribe, connected: &c, output: &output)
        case .unsubscribe(let unsubscribe):
            var refused: [Int: ReasonCode] = [:]
            var accepted: [String] = []
            for (i, filter) in unsubscribe.topicFilters.enumerated() {
                do {
                    try MQTTTopic.validateFilter(filter)
                    accepted.append(filter)
                } catch {
                    refused[i] = .topicFilterInvalid
                }
            }
            action = .unsubscribe(packetIdentifier: unsubscribe.packetIdentifier, accepted, refused: refused, count: unsubscribe.topicFilters.count)
        case .pingreq:
            output.append(.pingresp)
            action = .none
        case .disconnect(let disconnect):
            action = disconnectReceived(disconnect, connected: &c, output: &output)
            if case .close = action { return action }
        case .connect:
            state = .connected(c)
            return protocolViolation(.protocolError, output: &output)
        case .auth, .connack, .suback, .unsuback, .pingresp:
            // Server-to-client packets, or AUTH without enhanced authentication.
            state = .connected(c)
            return protocolViolation(.protocolError, output: &output)
        }
        if case .close = action { return action }
        state = .connected(c)
        return action
    }

    private mutating func publishReceived(_ publish: PublishPacket, connected c: inout Connected, now: NIODeadline, output: inout [MQTTPacket]) -> Action {
        if !publish.properties.subscriptionIdentifiers.isEmpty {
            // MQTT 5.0 §3.3.4: only the server sends Subscription Identifiers.
            state = .connected(c)
            return protocolViolation(.protocolError, output: &output)
        }
        // Resolve the topic alias (MQTT 5.0 §3.3.2.3.4).
        var topic = publish.topicName
        if let alias = publish.properties.topicAlias {
            guard alias != 0, alias <= configuration.topicAliasMaximum else {
                state = .connected(c)
                return protocolViolation(.topicAliasInvalid, output: &output)
            }
            if topic.isEmpty {
                guard let known = c.inboundAliases[alias] else {
                    state = .connected(c)
                    return protocolViolation(.protocolError, output: &output)
                }
                topic = known
            } else {
                c.inboundAliases[alias] = topic
            }
        } else if topic.isEmpty {
            state = .connected(c)
            return protocolViolation(c.version == .v5 ? .protocolError : .topicNameInvalid, output: &output)
        }
        do {
            try MQTTTopic.validateName(topic)
        } catch {
            state = .connected(c)
            return protocolViolation(.topicNameInvalid, output: &output)
        }
        if publish.retain && !configuration.retainAvailable {
            state = .connected(c)
            return protocolViolation(.retainNotSupported, output: &output)
        }

        var packetIdentifier: UInt16?
        if publish.qos != .atMostOnce {
            guard let id = publish.packetIdentifier else {
                state = .connected(c)
                return protocolViolation(.protocolError, output: &output)
            }
            if publish.qos == .exactlyOnce && c.session.incomingQoS2.contains(id) {
                // A retransmission of a QoS 2 message already received: acknowledge again, route once (§4.3.3).
                output.append(.pubrec(AckPacket(packetIdentifier: id)))
                return .none
            }
            // Receive Maximum (MQTT 5.0 §3.3.4): unacknowledged QoS 1 and 2 messages.
            if c.pendingAcks.count + c.session.incomingQoS2.count >= Int(configuration.receiveMaximum) {
                state = .connected(c)
                return protocolViolation(.receiveMaximumExceeded, output: &output)
            }
            packetIdentifier = id
            c.pendingAcks.append(PendingAck(packetIdentifier: id, qos: publish.qos, reasonCode: nil))
        }

        if publish.properties.payloadFormatIndicator == 1 && !Self.isValidUTF8(publish.payload) {
            // A payload that says it is UTF-8 and is not (MQTT 5.0 §3.3.2.3.2).
            if let id = packetIdentifier {
                completeAck(id, reasonCode: .payloadFormatInvalid, connected: &c, output: &output)
            }
            return .none
        }

        var properties = MQTTProperties()
        properties.payloadFormatIndicator = publish.properties.payloadFormatIndicator
        properties.messageExpiryInterval = publish.properties.messageExpiryInterval
        properties.contentType = publish.properties.contentType
        properties.responseTopic = publish.properties.responseTopic
        properties.correlationData = publish.properties.correlationData
        properties.userProperties = publish.properties.userProperties
        let message = MQTTMessage(topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain, properties: properties, receivedAt: now)
        return .route(message, packetIdentifier: packetIdentifier)
    }

    /// The router finished with a PUBLISH; acknowledges it (in order).
    /// `properties` (Reason String, User Properties) go only to MQTT 5
    /// clients that did not set Request Problem Information to 0
    /// (§3.1.2.11.7), and only when the acknowledgement stays within the
    /// client's Maximum Packet Size (MQTT 5.0 §3.4.2.2.2, §3.4.2.2.3).
    mutating func publishRouted(packetIdentifier: UInt16, reasonCode: ReasonCode, properties: MQTTProperties = .init(), output: inout [MQTTPacket]) {
        guard case .connected(var c) = state else { return }
        state = .closed
        completeAck(packetIdentifier, reasonCode: reasonCode, properties: properties, connected: &c, output: &output)
        state = .connected(c)
    }

    private mutating func completeAck(_ id: UInt16, reasonCode: ReasonCode, properties: MQTTProperties = .init(), connected c: inout Connected, output: inout [MQTTPacket]) {
        // Mark the oldest matching unfinished entry, then send from the head.
        if let index = c.pendingAcks.firstIndex(where: { $0.packetIdentifier == id && $0.reasonCode == nil }) {
            c.pendingAcks[index].reasonCode = reasonCode
            if c.version == .v5 && c.problemInformation {
                c.pendingAcks[index].reasonString = properties.reasonString
                c.pendingAcks[index].userProperties = properties.userProperties
            }
        }
        while let head = c.pendingAcks.first, let code = head.reasonCode {
            c.pendingAcks.removeFirst()
            var ack = AckPacket(packetIdentifier: head.packetIdentifier, reasonCode: code, properties: head.properties)
            if let limit = c.clientMaximumPacketSize,
                (head.qos == .atLeastOnce ? MQTTPacket.puback(ack) : MQTTPacket.pubrec(ack)).encodedLength(version: .v5) > Int(limit) {
                ack.properties = MQTTProperties()
            }
            if head.qos == .atLeastOnce {
                output.append(.puback(ack))
            } else {
                if !code.isFailure { c.session.incomingQoS2.insert(head.packetIdentifier) }
                output.append(.pubrec(ack))
            }
        }
    }

    private mutating func subscribeReceived(_ subscribe: SubscribePacket, connected c: inout Connected, output: inout [MQTTPacket]) -> Action {
        let identifier = subscribe.properties.subscriptionIdentifiers.first
        if identifier != nil && !configuration.subscriptionIdentifiersAvailable {
            state = .connected(c)
            return protocolViolation(.subscriptionIdentifiersNotSupported, output: &output)
        }
        if let identifier, identifier == 0 {
            state = .connected(c)
            return protocolViolation(.protocolError, output: &output)
        }
        var refused: [Int: ReasonCode] = [:]
        var accepted: [Subscription] = []
        for (i, subscription) in subscribe.subscriptions.enumerated() {
            let filter = subscription.topicFilter
            do {
                try MQTTTopic.validateFilter(filter)
            } catch {
                refused[i] = .topicFilterInvalid
                continue
            }
            let shared = MQTTTopic.sharedSubscription(filter)
            if shared != nil {
                if subscription.options.noLocal {
                    // MQTT 5.0 §3.8.3.1: No Local on a shared subscription is a Protocol Error.
                    state = .connected(c)
                    return protocolViolation(.protocolError, output: &output)
                }
                if !configuration.sharedSubscriptionsAvailable {
                    refused[i] = .sharedSubscriptionsNotSupported
                    continue
                }
            }
            let bare = shared?.filter ?? filter
            if !configuration.wildcardSubscriptionAvailable && (bare.contains("+") || bare.contains("#")) {
                refused[i] = .wildcardSubscriptionsNotSupported
                continue
            }
            accepted.append(subscription)
        }
        let request = MQTTSubscribeRequest(subscriptions: accepted, subscriptionIdentifier: identifier, userProperties: subscribe.properties.userProperties)
        return .subscribe(packetIdentifier: subscribe.packetIdentifier, request, refused: refused, count: subscribe.subscriptions.count)
    }

    /// The router answered a SUBSCRIBE: sends SUBACK, then the retained messages.
    mutating func subscribeRouted(packetIdentifier: UInt16, result: MQTTSubscribeResult, refused: [Int: ReasonCode], count: Int, now: NIODeadline, output: inout [MQTTPacket]) {
        let codes = Self.merge(result.reasonCodes, refused: refused, count: count)
        output.append(.suback(SubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: codes)))
        for delivery in result.retained {
            deliver(delivery, now: now, output: &output)
        }
    }

    /// The router answered an UNSUBSCRIBE.
    func unsubscribeRouted(packetIdentifier: UInt16, reasonCodes: [ReasonCode], refused: [Int: ReasonCode], count: Int, output: inout [MQTTPacket]) {
        output.append(.unsuback(UnsubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: Self.merge(reasonCodes, refused: refused, count: count))))
    }

    private static func merge(_ routed: [ReasonCode], refused: [Int: ReasonCode], count: Int) -> [ReasonCode] {
        var codes: [ReasonCode] = []
        codes.reserveCapacity(count)
        var next = routed.makeIterator()
        for i in 0..<count {
            codes.append(refused[i] ?? next.next() ?? .unspecifiedError)
        }
        return codes
    }

    private mutating func disconnectReceived(_ disconnect: DisconnectPacket, connected c: inout Connected, output: inout [MQTTPacket]) -> Action {
        if let expiry = disconnect.properties.sessionExpiryInterval {
            if c.sessionExpiry == 0 && expiry != 0 {
                // MQTT 5.0 §3.14.2.2.2: cannot turn expiry on at DISCONNECT.
                state = .connected(c)
                return protocolViolation(.protocolError, output: &output)
            }
            c.sessionExpiry = min(expiry, configuration.maximumSessionExpiry ?? expiry)
        }
        // Only a Normal disconnection (0x00) deletes the will; 0x04 asks for
        // it, and a client that disconnects with an error code (0x80 and
        // above) gets it published too (MQTT 5.0 §3.1.2.5, §3.14.4
        // [MQTT-3.1.2-8], [MQTT-3.1.2-10], [MQTT-3.14.4-3]). A 3.1.1
        // DISCONNECT decodes as 0x00.
        let publishWill = disconnect.reasonCode != .normalDisconnection
        return close(.clientDisconnected(disconnect.reasonCode), connected: c, publishWill: publishWill)
    }

    // MARK: - Messages for the client

    /// A message for this session. Returns false when the connection can no
    /// longer take it (closed): the caller gives it back to the session.
    @discardableResult
    mutating func deliver(_ delivery: MQTTDelivery, now: NIODeadline, output: inout [MQTTPacket]) -> Bool {
        guard case .connected(var c) = state else { return false }
        state = .closed
        deliver(delivery, connected: &c, now: now, output: &output)
        state = .connected(c)
        return true
    }

    private mutating func deliver(_ delivery: MQTTDelivery, connected c: inout Connected, now: NIODeadline, output: inout [MQTTPacket]) {
        if delivery.qos == .atMostOnce {
            if let ticket = delivery.ticket { releasedTickets.append(ticket) }
            if let publish = makePublish(delivery, packetIdentifier: nil, dup: false, connected: &c, now: now) {
                output.append(.publish(publish))
            }
            return
        }
        if c.session.inflightCount < c.inflightLimit && c.session.queue.isEmpty {
            send(delivery, connected: &c, now: now, output: &output)
        } else if let ticket = c.session.enqueue(delivery, limit: configuration.maximumQueuedMessages, softLimit: slowClientQueue).release {
            releasedTickets.append(ticket)
        }
    }

    private mutating func send(_ delivery: MQTTDelivery, connected c: inout Connected, now: NIODeadline, output: inout [MQTTPacket]) {
        var delivery = delivery
        if let ticket = delivery.ticket {
            releasedTickets.append(ticket)
            delivery.ticket = nil
        }
        let id = c.session.startOutbound(delivery)
        if let publish = makePublish(delivery, packetIdentifier: id, dup: false, connected: &c, now: now) {
            output.append(.publish(publish))
        } else {
            // Expired or too large for the client: behave as if sent and
            // completed (MQTT 5.0 §3.1.2.11.4), so its router hears so too.
            c.session.completeOutbound(id)
            if let done = delivery.onAcknowledged { acknowledged.append(done) }
        }
    }

    private mutating func drainQueue(_ c: inout Connected, now: NIODeadline, output: inout [MQTTPacket]) {
        while c.session.inflightCount < c.inflightLimit, let next = c.session.dequeue() {
            send(next, connected: &c, now: now, output: &output)
        }
    }

    /// Builds the PUBLISH for a delivery, or nil when it must not be sent:
    /// its message expired before it was first sent, or it exceeds the
    /// client's Maximum Packet Size.
    ///
    /// A retransmission (`dup`) is sent even when the message has expired
    /// since: expiry applies only before onward delivery starts (MQTT 5.0
    /// §3.3.2.3.3 [MQTT-3.3.2-5], §4.3.3 [MQTT-4.3.3-7]); it then carries
    /// what is left of the interval, 0 at the least.
    private func makePublish(_ delivery: MQTTDelivery, packetIdentifier: UInt16?, dup: Bool, connected c: inout Connected, now: NIODeadline) -> PublishPacket? {
        let message = delivery.message
        var publish = PublishPacket(topicName: message.topic, payload: message.payload, qos: delivery.qos, retain: delivery.retain, dup: dup, packetIdentifier: packetIdentifier)
        if c.version == .v5 {
            publish.properties = message.properties
            if let remaining = message.remainingExpiry(at: now) {
                guard remaining > 0 || dup else { return nil }
                publish.properties.messageExpiryInterval = remaining
            }
            publish.properties.subscriptionIdentifiers = delivery.subscriptionIdentifiers
            if let limit = c.clientMaximumPacketSize, MQTTPacket.publish(publish).encodedLength(version: .v5) > Int(limit) {
                // Try without user properties? No: the message must arrive whole or not at all.
                return nil
            }
            if c.clientTopicAliasMaximum > 0 {
                if let alias = c.outboundAliases[message.topic] {
                    publish.topicName = ""
                    publish.properties.topicAlias = alias
                } else if c.outboundAliases.count < Int(c.clientTopicAliasMaximum) {
                    let alias = UInt16(c.outboundAliases.count + 1)
                    c.outboundAliases[message.topic] = alias
                    publish.properties.topicAlias = alias
                }
            }
        } else if message.remainingExpiry(at: now) == 0 && !dup {
            return nil
        }
        return publish
    }

    // MARK: - Ending

    /// The keep-alive deadline passed without a packet (MQTT 5.0 §3.1.2.10).
    mutating func keepAliveExpired(output: inout [MQTTPacket]) -> Action {
        serverDisconnect(.keepAliveTimeout, reason: .keepAliveTimeout, properties: MQTTProperties(), output: &output)
    }

    /// The connect timeout passed before CONNECT completed.
    mutating func connectTimedOut() -> Action {
        switch state {
        case .awaitingConnect, .authenticating, .openingSession:
            state = .closed
            return .close(Closing(reason: .connectTimeout, will: nil, session: nil, sessionExpiry: 0))
        case .connected, .closed:
            return .none
        }
    }

    /// The server ends the connection with `code` (e.g. 0x9C Use another
    /// server with a Server Reference, 0x8B Server shutting down).
    mutating func disconnectRequested(_ code: ReasonCode, properties: MQTTProperties, output: inout [MQTTPacket]) -> Action {
        serverDisconnect(code, reason: .serverDisconnect(code), properties: properties, output: &output)
    }

    /// The client wrote more than it reads: its output passed the limit.
    mutating func outputOverflowed() -> Action {
        guard case .connected(let c) = state else { return closeWithoutSession(.slowConsumer) }
        return close(.slowConsumer, connected: c, publishWill: true)
    }

    /// Another connection took the session over (MQTT 5.0 §3.1.4 point 3).
    /// `sessionContinues` is false when the new connection starts clean, in
    /// which case the will is due now.
    ///
    /// A session whose expiry is 0 (3.1.1 Clean Session 1) does not continue
    /// whatever the new connection asks: it ends with this connection
    /// (MQTT 3.1.1 §3.1.2.4, MQTT 5.0 §3.1.2.11.2), so the new one starts
    /// afresh with Session Present 0.
    mutating func takenOver(sessionContinues: Bool, output: inout [MQTTPacket]) -> Action {
        guard case .connected(let c) = state else { return closeWithoutSession(.takenOver) }
        let sessionContinues = sessionContinues && c.sessionExpiry > 0
        let notified = appendDisconnect(DisconnectPacket(reasonCode: .sessionTakenOver), connected: c, output: &output)
        // The will goes out now, unless the session continues in the new
        // connection before a will delay has passed (MQTT 5.0 §3.1.3.2.2).
        var will: (ConnectPacket.Will, UInt32)?
        if let w = c.will?.will, !(sessionContinues && (w.properties.willDelayInterval ?? 0) > 0) {
            will = (w, 0)
        }
        var session = c.session
        releasedTickets.append(contentsOf: session.takeTickets())
        state = .closed
        return .close(Closing(reason: .takenOver, will: will, session: session, sessionExpiry: c.sessionExpiry, handsOver: sessionContinues, drainsInput: notified))
    }

    /// The network connection is gone.
    mutating func connectionLost() -> Action {
        guard case .connected(let c) = state else { return closeWithoutSession(.connectionLost) }
        return close(.connectionLost, connected: c, publishWill: true)
    }

    /// Input could not be decoded or broke the protocol.
    mutating func errorCaught(_ error: MQTTError, output: inout [MQTTPacket]) -> Action {
        switch state {
        case .awaitingConnect, .authenticating, .openingSession:
            state = .closed
            return .close(Closing(reason: .protocolViolation(error.reasonCode), will: nil, session: nil, sessionExpiry: 0))
        case .connected, .closed:
            return protocolViolation(error.reasonCode, output: &output)
        }
    }

    private mutating func serverDisconnect(_ code: ReasonCode, reason: CloseReason, properties: MQTTProperties, output: inout [MQTTPacket]) -> Action {
        guard case .connected(let c) = state else { return closeWithoutSession(reason) }
        let notified = appendDisconnect(DisconnectPacket(reasonCode: code, properties: properties), connected: c, output: &output)
        return close(reason, connected: c, publishWill: true, drainsInput: notified)
    }

    private mutating func protocolViolation(_ code: ReasonCode, output: inout [MQTTPacket]) -> Action {
        switch state {
        case .connected(let c):
            let notified = appendDisconnect(DisconnectPacket(reasonCode: code), connected: c, output: &output)
            return close(.protocolViolation(code), connected: c, publishWill: true, drainsInput: notified)
        case .awaitingConnect, .authenticating, .openingSession, .closed:
            return closeWithoutSession(.protocolViolation(code))
        }
    }

    /// The server's DISCONNECT to a 5.0 client (3.1 and 3.1.1 have none),
    /// within the client's Maximum Packet Size: without its properties if
    /// they do not fit, not at all if even that does not (MQTT 5.0
    /// §3.1.2.11.4, §3.14.2.2.2–3). Returns whether it was sent.
    private func appendDisconnect(_ disconnect: DisconnectPacket, connected c: Connected, output: inout [MQTTPacket]) -> Bool {
        guard c.version == .v5 else { return false }
        var disconnect = disconnect
        // A code DISCONNECT may not carry (a CONNACK-only one such as 0x88) would be a Protocol Error at the client.
        if !disconnect.reasonCode.isAllowedInDisconnect { disconnect.reasonCode = .unspecifiedError }
        if let limit = c.clientMaximumPacketSize {
            if MQTTPacket.disconnect(disconnect).encodedLength(version: .v5) > Int(limit) {
                disconnect.properties = MQTTProperties()
            }
            if MQTTPacket.disconnect(disconnect).encodedLength(version: .v5) > Int(limit) {
                return false
            }
        }
        output.append(.disconnect(disconnect))
        return true
    }

    /// Answers `connect` with a refusing CONNACK and closes.
    private mutating func refuse(_ code: ReasonCode, connect: ConnectPacket, properties: MQTTProperties = .init(), output: inout [MQTTPacket]) -> Action {
        refuse(code, version: connect.protocolVersion, clientMaximumPacketSize: connect.clientMaximumPacketSize, properties: properties, output: &output)
    }

    private mutating func refuse(_ code: ReasonCode, version: ProtocolVersion, clientMaximumPacketSize: UInt32?, properties: MQTTProperties = .init(), output: inout [MQTTPacket]) -> Action {
        // MQTT 5.0 §3.2.2.2: a failing CONNACK has Session Present 0 and closes the connection.
        let ack = ConnAckPacket(sessionPresent: false, reasonCode: code, properties: version == .v5 ? properties : .init())
        var notified = false
        if let fitted = version == .v5 ? Self.fitConnAck(ack, within: clientMaximumPacketSize) : ack {
            output.append(.connack(fitted))
            notified = true
        }
        state = .closed
        return .close(Closing(reason: .refused(code), will: nil, session: nil, sessionExpiry: 0, drainsInput: notified))
    }

    /// A first packet that could not be decoded as an acceptable CONNECT.
    /// `answer` is the version to answer in with a refusing CONNACK (MQTT
    /// 5.0 §3.1.4: when the client's version can be told), nil to close
    /// without an answer.
    mutating func connectFailed(_ error: MQTTError, answer: ProtocolVersion?, output: inout [MQTTPacket]) -> Action {
        guard case .awaitingConnect = state else { return errorCaught(error, output: &output) }
        guard let answer else {
            state = .closed
            return .close(Closing(reason: .protocolViolation(error.reasonCode), will: nil, session: nil, sessionExpiry: 0))
        }
        return refuse(error.reasonCode, version: answer, clientMaximumPacketSize: nil, output: &output)
    }

    private mutating func closeWithoutSession(_ reason: CloseReason) -> Action {
        if case .closed = state { return .none }
        state = .closed
        return .close(Closing(reason: reason, will: nil, session: nil, sessionExpiry: 0))
    }

    private mutating func close(_ reason: CloseReason, connected c: Connected, publishWill: Bool, drainsInput: Bool = false) -> Action {
        var c = c
        releasedTickets.append(contentsOf: c.session.takeTickets())
        state = .closed
        var will: (ConnectPacket.Will, UInt32)?
        if publishWill, let w = c.will?.will {
            will = (w, min(w.properties.willDelayInterval ?? 0, c.sessionExpiry))
        }
        return .close(Closing(reason: reason, will: will, session: c.session, sessionExpiry: c.sessionExpiry, drainsInput: drainsInput))
    }

    // MARK: - Helpers

    /// The most outbound topic aliases kept per connection, whatever the client allows.
    static let outboundAliasCap: UInt16 = 1024

    private static func makeClientIdentifier() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next() as UInt64
        let b = generator.next() as UInt64
        return "auto-" + String(a, radix: 16) + String(b, radix: 16)
    }

    private static func isValidUTF8(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { bytes in
            String(validating: bytes, as: UTF8.self) != nil
        }
    }
}

extension ConnectPacket {
    /// The Maximum Packet Size the client accepts (MQTT 5.0 §3.1.2.11.4);
    /// nil when it set none or speaks 3.1 or 3.1.1.
    fileprivate var clientMaximumPacketSize: UInt32? {
        protocolVersion == .v5 ? properties.maximumPacketSize : nil
    }
}
