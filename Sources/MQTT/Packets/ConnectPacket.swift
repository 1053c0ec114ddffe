import NIOCore

/// CONNECT (MQTT 5.0 §3.1, MQTT 3.1.1 §3.1).
public struct ConnectPacket: Hashable, Sendable {
    /// The Will Message a client registers in CONNECT (MQTT 5.0 §3.1.2.5, §3.1.3.2).
    public struct Will: Hashable, Sendable {
        /// The topic the will is published to.
        public var topic: String
        /// The will message.
        public var payload: ByteBuffer
        /// The QoS the will is published with.
        public var qos: QoS
        /// Whether the will is published as retained.
        public var retain: Bool
        /// Will Properties (MQTT 5.0 §3.1.3.2): Will Delay Interval, Payload
        /// Format Indicator, Message Expiry, Content Type, Response Topic,
        /// Correlation Data, User Properties.
        public var properties: MQTTProperties

        /// A will message.
        public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: MQTTProperties = .init()) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    /// The protocol level the client speaks (§3.1.2.2).
    public var protocolVersion: ProtocolVersion
    /// Clean Start (5.0) / Clean Session (3.1.1).
    public var cleanStart: Bool
    /// Keep Alive in seconds; 0 turns the mechanism off (MQTT 5.0 §3.1.2.10).
    public var keepAlive: UInt16
    /// May be empty: the server then assigns one (5.0) or, for 3.1.1, only with Clean Session set.
    public var clientIdentifier: String
    /// User Name, if the client sent one (§3.1.3.5).
    public var username: String?
    /// Password, if the client sent one (§3.1.3.6).
    public var password: ByteBuffer?
    /// The will message, if the Will Flag is set (§3.1.2.5).
    public var will: Will?
    /// CONNECT properties (5.0 only, §3.1.2.11).
    public var properties: MQTTProperties

    /// A CONNECT for `protocolVersion` from `clientIdentifier`.
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
