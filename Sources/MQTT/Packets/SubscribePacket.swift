/// What a client asks for one topic filter in SUBSCRIBE (MQTT 5.0 §3.8.3.1).
public struct SubscriptionOptions: Hashable, Sendable {
    /// When to send retained messages on subscribe (MQTT 5.0 §3.8.3.1).
    public enum RetainHandling: UInt8, Sendable, Hashable {
        /// Send retained messages at the time of the subscribe.
        case sendOnSubscribe = 0
        /// Send them only if the subscription did not already exist.
        case sendOnNewSubscribe = 1
        /// Do not send them.
        case doNotSend = 2
    }

    /// The highest QoS the server may send with (§3.8.3.1).
    public var qos: QoS
    /// Do not forward to the connection that published (5.0 only).
    public var noLocal: Bool
    /// Keep the RETAIN flag as published when forwarding (5.0 only).
    public var retainAsPublished: Bool
    /// When retained messages are sent (5.0 only).
    public var retainHandling: RetainHandling

    /// Subscription options; the defaults are those 3.1.1 implies.
    public init(qos: QoS = .atMostOnce, noLocal: Bool = false, retainAsPublished: Bool = false, retainHandling: RetainHandling = .sendOnSubscribe) {
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }
}

/// One topic filter with its options.
public struct Subscription: Hashable, Sendable {
    /// The filter, possibly a `$share/<group>/<filter>`.
    public var topicFilter: String
    /// What the client asks for this filter.
    public var options: SubscriptionOptions

    /// A subscription to `topicFilter`.
    public init(topicFilter: String, options: SubscriptionOptions = .init()) {
        self.topicFilter = topicFilter
        self.options = options
    }
}

/// SUBSCRIBE (MQTT 5.0 §3.8, MQTT 3.1.1 §3.8).
public struct SubscribePacket: Hashable, Sendable {
/// Non-zero identifier that SUBACK echoes.
    public var packetIdentifier: UInt16
    /// At least one (§3.8.3).
    public var subscriptions: [Subscription]
    /// Subscription Identifier and User Properties.
    public var properties: MQTTProperties

    /// A SUBSCRIBE.
    public init(packetIdentifier: UInt16, subscriptions: [Subscription], properties: MQTTProperties = .init()) {
        self.packetIdentifier = packetIdentifier
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

/// SUBACK (MQTT 5.0 §3.9). For 3.1.1 each code is written as 0x00–0x02 or 0x80.
public struct SubAckPacket: Hashable, Sendable {
/// The identifier of the SUBSCRIBE answered.
    public var packetIdentifier: UInt16
/// One per topic filter, in order (§3.9.3).
    public var reasonCodes: [ReasonCode]
/// Reason String and User Properties (5.0 only).
    public var properties: MQTTProperties

    /// A SUBACK.
    public init(packetIdentifier: UInt16, reasonCodes: [ReasonCode], properties: MQTTProperties = .init()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

/// UNSUBSCRIBE (MQTT 5.0 §3.10).
public struct UnsubscribePacket: Hashable, Sendable {
/// Non-zero identifier that UNSUBACK echoes.
    public var packetIdentifier: UInt16
/// The filters to remove, at least one (§3.10.3).
    public var topicFilters: [String]
/// User Properties (5.0 only).
    public var properties: MQTTProperties

    /// An UNSUBSCRIBE.
    public init(packetIdentifier: UInt16, topicFilters: [String], properties: MQTTProperties = .init()) {
        self.packetIdentifier = packetIdentifier
        self.topicFilters = topicFilters
        self.properties = properties
    }
}

/// UNSUBACK (MQTT 5.0 §3.11). MQTT 3.1.1 has no reason codes: `reasonCodes`
/// is not written and decodes as empty.
public struct UnsubAckPacket: Hashable, Sendable {
/// The identifier of the UNSUBSCRIBE answered.
    public var packetIdentifier: UInt16
/// One per topic filter, in order (5.0 only, §3.11.3).
    public var reasonCodes: [ReasonCode]
/// Reason String and User Properties (5.0 only).
    public var properties: MQTTProperties

    /// An UNSUBACK.
    public init(packetIdentifier: UInt16, reasonCodes: [ReasonCode], properties: MQTTProperties = .init()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}
