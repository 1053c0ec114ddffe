/// The control packet type in the high nibble of the fixed header (MQTT 5.0 §2.1.2).
public enum PacketType: UInt8, Sendable, Hashable {
    case connect = 1
    case connack = 2
    case publish = 3
    case puback = 4
    case pubrec = 5
    case pubrel = 6
    case pubcomp = 7
    case subscribe = 8
    case suback = 9
    case unsubscribe = 10
    case unsuback = 11
    case pingreq = 12
    case pingresp = 13
    case disconnect = 14
    /// MQTT 5.0 only; reserved in 3.1.1.
    case auth = 15
}
