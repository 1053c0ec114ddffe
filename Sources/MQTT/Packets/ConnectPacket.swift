import NIOCore

/// CONNECT (MQTT 5.0 §3.1, MQTT 3.1.1 §3.1).
public struct ConnectPacket: Hashable, Sendable {
    /// The Will Message a client registers in CONNECT (MQTT 5.0 §3.1.2.5, §3.1.3.2).
    public struct Will: Hashable, Sendable {
        public var topic: String
        public var payload: ByteBuffer
        public var qos: QoS
        public var retain: Bool
        /// Will Properties (MQTT 5.0 §3.1.3.2): Will Delay Interval, Payload
        /// Format Indicator, Message Expiry, Content Type, Response Topic,
        /// Correlation Data, User Properties.
        public var properties: MQTTProperties

        public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: MQTTProperties = .init()) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    public var protocolVersion: ProtocolVersion
    /// Clean Start (5.0) / Clean Session (3.1.1).
    public var cleanStart: Bool
    /// Keep Alive in seconds; 0 turns the mechanism off (MQTT 5.0 §3.1.2.10).
    public var keepAlive: UInt16
    /// May be empty: the server then assigns one (5.0) or, for 3.1.1, only with Clean Session set.
    public var clientIdentifier: String
    public var username: String?
    public var password: ByteBuffer?
    public var will: Will?
    public var properties: MQTTProperties

    public init(
        protocolVersion: ProtocolVersion,
        clientIdentifier: String,
        cleanStart: Bool = true,
        keepAlive: UInt16 = 60,
        username: String? = nil,
        password: ByteBuffer? = nil,
        will: Will? = nil,
        properties: MQTTProperties = .init()
    ) {
        self.protocolVersion = protocolVersion
        self.clientIdentifier = clientIdentifier
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties
    }
}
