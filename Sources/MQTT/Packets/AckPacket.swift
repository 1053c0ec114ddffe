/// The body shared by PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5.0 §3.4–§3.7):
/// a packet identifier, then in MQTT 5.0 an optional reason code and
/// properties (omitted on the wire when Success with no properties).
public struct AckPacket: Hashable, Sendable {
    /// The identifier of the PUBLISH (or PUBREC/PUBREL) acknowledged.
    public var packetIdentifier: UInt16
    /// The outcome (5.0 only; 3.1.1 always means Success).
    public var reasonCode: ReasonCode
    /// Reason String and User Properties (5.0 only).
    public var properties: MQTTProperties

    /// An acknowledgement of `packetIdentifier`.
    public init(packetIdentifier: UInt16, reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
