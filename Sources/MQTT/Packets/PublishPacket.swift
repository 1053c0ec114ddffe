import NIOCore

/// PUBLISH (MQTT 5.0 §3.3, MQTT 3.1.1 §3.3).
public struct PublishPacket: Hashable, Sendable {
    /// May be empty in MQTT 5.0 when a Topic Alias property stands for it (§3.3.2.3.4).
    public var topicName: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    public var dup: Bool
    /// Present exactly when `qos` is 1 or 2 (§2.2.1).
    public var packetIdentifier: UInt16?
    public var properties: MQTTProperties

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
