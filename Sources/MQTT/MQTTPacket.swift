/// Every MQTT control packet. Encoding and decoding take the negotiated
/// protocol version, since 3.1.1 and 5.0 lay out the same packets differently.
public enum MQTTPacket: Hashable, Sendable {
    /// CONNECT: a client asks to connect (§3.1).
    case connect(ConnectPacket)
    /// CONNACK: the server answers CONNECT (§3.2).
    case connack(ConnAckPacket)
    /// PUBLISH: an application message (§3.3).
    case publish(PublishPacket)
    /// PUBACK: QoS 1 acknowledgement (§3.4).
    case puback(AckPacket)
    /// PUBREC: QoS 2 delivery, part 1 (§3.5).
    case pubrec(AckPacket)
    /// PUBREL: QoS 2 delivery, part 2 (§3.6).
    case pubrel(AckPacket)
    /// PUBCOMP: QoS 2 delivery, part 3 (§3.7).
    case pubcomp(AckPacket)
    /// SUBSCRIBE: a client asks for topic filters (§3.8).
    case subscribe(SubscribePacket)
    /// SUBACK: the server answers SUBSCRIBE (§3.9).
    case suback(SubAckPacket)
    /// UNSUBSCRIBE: a client drops topic filters (§3.10).
    case unsubscribe(UnsubscribePacket)
    /// UNSUBACK: the server answers UNSUBSCRIBE (§3.11).
    case unsuback(UnsubAckPacket)
    case pingreq
    case pingresp
    /// DISCONNECT: the connection ends (§3.14).
    case disconnect(DisconnectPacket)
    /// AUTH: enhanced authentication exchange, 5.0 only (§3.15).
    case auth(AuthPacket)

    /// The packet type of this packet.
    public var type: PacketType {
        switch self {
        case .connect: return .connect
        case .connack: return .connack
        case .publish: return .publish
        case .puback: return .puback
        case .pubrec: return .pubrec
        case .pubrel: return .pubrel
        case .pubcomp: return .pubcomp
        case .subscribe: return .subscribe
        case .suback: return .suback
        case .unsubscribe: return .unsubscribe
        case .unsuback: return .unsuback
        case .pingreq: return .pingreq
        case .pingresp: return .pingresp
        case .disconnect: return .disconnect
        case .auth: return .auth
        }
    }
}
