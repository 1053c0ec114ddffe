/// The control packet type in the high nibble of the fixed header (MQTT 5.0 §2.1.2).
public enum PacketType: UInt8, Sendable, Hashable {
    /// CONNECT: a client asks to connect (§3.1).
    case connect = 1
    /// CONNACK: the server answers CONNECT (§3.2).
    case connack = 2
    /// PUBLISH: an application message (§3.3).
    case publish = 3
    /// PUBACK: QoS 1 acknowledgement (§3.4).
    case puback = 4
    /// PUBREC: QoS 2 delivery, part 1 (§3.5).
    case pubrec = 5
    /// PUBREL: QoS 2 delivery, part 2 (§3.6).
    case pubrel = 6
    /// PUBCOMP: QoS 2 delivery, part 3 (§3.7).
    case pubcomp = 7
    /// SUBSCRIBE: a client asks for topic filters (§3.8).
    case subscribe = 8
    /// SUBACK: the server answers SUBSCRIBE (§3.9).
    case suback = 9
    /// UNSUBSCRIBE: a client drops topic filters (§3.10).
    case unsubscribe = 10
    /// UNSUBACK: the server answers UNSUBSCRIBE (§3.11).
    case unsuback = 11
    /// PINGREQ: keep-alive request (§3.12).
    case pingreq = 12
    /// PINGRESP: keep-alive answer (§3.13).
    case pingresp = 13
    /// DISCONNECT: the connection ends (§3.14).
    case disconnect = 14
    /// MQTT 5.0 only; reserved in 3.1.1.
    case auth = 15
}
