import NIOCore

/// Limits and timings of the MQTT engine. Every limit the server announces
/// in CONNACK comes from here.
public struct MQTTServerConfiguration: Sendable {
    /// The largest packet the server accepts, whole packet counted
    /// (CONNACK Maximum Packet Size, MQTT 5.0 §3.2.2.3.6).
    public var maximumPacketSize: UInt32 = 1_048_576
    /// How many QoS 1 and 2 PUBLISHes a client may have unacknowledged
    /// towards the server (CONNACK Receive Maximum, MQTT 5.0 §3.2.2.3.3).
    public var receiveMaximum: UInt16 = 256
    /// How many QoS 1 and 2 PUBLISHes the server keeps in flight to one
    /// client at most, further capped by the client's own Receive Maximum.
    public var maximumInflightOutbound: UInt16 = 256
    /// Topic aliases a client may use towards the server (CONNACK Topic Alias
    /// Maximum, MQTT 5.0 §3.2.2.3.8). 0 turns them off.
    public var topicAliasMaximum: UInt16 = 64
    /// Keep-alives above this many seconds, and 0, are replaced with this via
    /// Server Keep Alive (MQTT 5.0 §3.2.2.3.14). nil accepts what the client asks.
    public var maximumKeepAlive: UInt16? = nil
    /// A connection that has not sent a complete CONNECT within this time is closed.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// Messages a session queues beyond its inflight window (connected or
    /// not); further QoS 1 and 2 messages for it are dropped and counted.
    public var maximumQueuedMessages: Int = 1000
    /// A connection whose unsent output grows past this many bytes (a client
    /// that does not read) is disconnected.
    public var maximumOutgoingBytes: Int = 4 * 1_048_576
    /// The longest Session Expiry Interval granted, in seconds (MQTT 3.1.1
    /// persistent sessions get this too). nil: as asked.
    public var maximumSessionExpiry: UInt32? = nil
    /// Whether retained messages are supported (CONNACK Retain Available).
    public var retainAvailable: Bool = true
    /// Whether wildcard subscriptions are supported.
    public var wildcardSubscriptionAvailable: Bool = true
    /// Whether subscription identifiers are supported.
    public var subscriptionIdentifiersAvailable: Bool = true
    /// Whether `$share/` shared subscriptions are supported.
    public var sharedSubscriptionsAvailable: Bool = true

    public init() {}
}
