/// CONNACK (MQTT 5.0 §3.2, MQTT 3.1.1 §3.2). For 3.1.1 the reason code is
/// written as the matching return code (`ReasonCode.connectReturnCodeV311`).
public struct ConnAckPacket: Hashable, Sendable {
    public var sessionPresent: Bool
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties

    public init(sessionPresent: Bool = false, reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
