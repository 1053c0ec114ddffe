/// The protocol level carried in CONNECT (MQTT 3.1 §3.1, MQTT 3.1.1 §3.1.2.2,
/// MQTT 5.0 §3.1.2.2).
public enum ProtocolVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// MQTT 3.1, protocol level 3 with protocol name `MQIsdp`. On the wire it
    /// is MQTT 3.1.1 but for its CONNECT (name, client identifier rule) and
    /// its CONNACK, whose first byte is reserved (no Session Present).
    case v31 = 3
    /// MQTT 3.1.1, protocol level 4.
    case v311 = 4
    /// MQTT 5.0, protocol level 5.
    case v5 = 5

    /// The version a CONNECT's protocol name and level name together, or nil
    /// for any other pair: `MQIsdp` goes with level 3 only, `MQTT` with 4 and 5
    /// (MQTT 3.1.1 §3.1.2.1–2, MQTT 5.0 §3.1.2.1–2).
    public init?(protocolName: String, level: UInt8) {
        switch (protocolName, level) {
        case (MQTTLimits.protocolNameV31, 3): self = .v31
        case (MQTTLimits.protocolName, 4): self = .v311
        case (MQTTLimits.protocolName, 5): self = .v5
        default: return nil
        }
    }

    /// The protocol name this version's CONNECT carries.
    public var protocolName: String {
        self == .v31 ? MQTTLimits.protocolNameV31 : MQTTLimits.protocolName
    }

    /// "3.1", "3.1.1" or "5.0".
    public var description: String {
        switch self {
        case .v31: return "3.1"
        case .v311: return "3.1.1"
        case .v5: return "5.0"
        }
    }
}
