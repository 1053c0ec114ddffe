/// CONNACK (MQTT 5.0 §3.2, MQTT 3.1.1 §3.2). For 3.1.1 the reason code is
/// written as the matching return code (`ReasonCode.connectReturnCodeV311`).
public struct ConnAckPacket: Hashable, Sendable {
    /// Whether the server resumed a stored session (§3.2.2.1.1).
    public var sessionPresent: Bool
    /// The outcome of the connection attempt (§3.2.2.2).
    public var reasonCode: ReasonCode
    /// CONNACK properties (5.0 only, §3.2.2.3).
    public var properties: MQTTProperties

    /// A CONNACK; by default Success without a session.
    public init(sessionPresent: Bool = false, reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
