/// The body shared by PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5.0 §3.4–§3.7):
/// a packet identifier, then in MQTT 5.0 an optional reason code and
/// properties (omitted on the wire when Success with no properties).
public struct AckPacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties

    public init(packetIdentifier: UInt16, reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
