/// The protocol level carried in CONNECT (MQTT 3.1.1 §3.1.2.2, MQTT 5.0 §3.1.2.2).
public enum ProtocolVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// MQTT 3.1.1, protocol level 4.
    case v311 = 4
    /// MQTT 5.0, protocol level 5.
    case v5 = 5

    /// "3.1.1" or "5.0".
    public var description: String {
        switch self {
        case .v311: return "3.1.1"
        case .v5: return "5.0"
        }
    }
}
