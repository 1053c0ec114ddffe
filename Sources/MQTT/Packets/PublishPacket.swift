import NIOCore

/// PUBLISH (MQTT 5.0 §3.3, MQTT 3.1.1 §3.3).
public struct PublishPacket: Hashable, Sendable {
    /// May be empty in MQTT 5.0 when a Topic Alias property stands for it (§3.3.2.3.4).
    public var topicName: String
    /// The application message, as bytes.
    public var payload: ByteBuffer
    /// Quality of service (§3.3.1.2).
    public var qos: QoS
    /// RETAIN flag (§3.3.1.3).
    public var retain: Bool
    /// DUP flag: a redelivery (§3.3.1.1); only meaningful with QoS > 0.
    public var dup: Bool
    /// Present exactly when `qos` is 1 or 2 (§2.2.1).
    public var packetIdentifier: UInt16?
    /// PUBLISH properties (5.0 only, §3.3.2.3).
    public var properties: MQTTProperties

    /// A PUBLISH; `packetIdentifier` is needed for QoS 1 and 2.
    public init(
        topicName: String,
        payload: ByteBuffer,
        qos: QoS = .atMostOnce,
        retain: Bool = false,
        dup: Bool = false,
        packetIdentifier: UInt16? = nil,
        properties: MQTTProperties = .init()
    ) {
        self.topicName = topicName
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetIdentifier = packetIdentifier
        self.properties = properties
    }
}
