import NIOCore

/// A set of reason code values, as a 256-bit map: which codes a packet may
/// carry (MQTT 5.0 §2.4, and each packet's reason code table).
struct ReasonCodeSet: Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init(_ codes: [UInt8]) {
        for code in codes {
            let bit = UInt64(1) << UInt64(code & 63)
            switch code >> 6 {
            case 0: self.words.0 |= bit
            case 1: self.words.1 |= bit
            case 2: self.words.2 |= bit
            default: self.words.3 |= bit
            }
        }
    }

    @inline(__always)
    func contains(_ code: ReasonCode) -> Bool {
        let bit = UInt64(1) << UInt64(code.rawValue & 63)
        switch code.rawValue >> 6 {
        case 0: return self.words.0 & bit != 0
        case 1: return self.words.1 & bit != 0
        case 2: return self.words.2 & bit != 0
        default: return self.words.3 & bit != 0
        }
    }

    /// CONNACK (MQTT 5.0 §3.2.2.2).
    static let connack = ReasonCodeSet([
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99,
        0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ])
    /// PUBACK and PUBREC (MQTT 5.0 §3.4.2.1, §3.5.2.1).
    static let pubackPubrec = ReasonCodeSet([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99])
    /// PUBREL and PUBCOMP (MQTT 5.0 §3.6.2.1, §3.7.2.1).
    static let pubrelPubcomp = ReasonCodeSet([0x00, 0x92])
    /// SUBACK (MQTT 5.0 §3.9.3).
    static let suback = ReasonCodeSet([0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2])
    /// SUBACK in MQTT 3.1.1 (§3.9.3).
    static let subackV311 = ReasonCodeSet([0x00, 0x01, 0x02, 0x80])
    /// UNSUBACK (MQTT 5.0 §3.11.3).
    static let unsuback = ReasonCodeSet([0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91])
    /// DISCONNECT (MQTT 5.0 §3.14.2.1).
    static let disconnect = ReasonCodeSet([
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96,
        0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ])
    /// AUTH (MQTT 5.0 §3.15.2.1).
    static let auth = ReasonCodeSet([0x00, 0x18, 0x19])
}

extension ReasonCode {
    /// Whether a DISCONNECT may carry this code (MQTT 5.0 §3.14.2.1): some
    /// codes, such as 0x88 Server unavailable, belong to CONNACK only.
    public var isAllowedInDisconnect: Bool { ReasonCodeSet.disconnect.contains(self) }
}

extension ByteBuffer {
    /// Reads a reason code and checks it is one `allowed` lists; one that is
    /// not is a Protocol Error.
    @inline(__always)
    mutating func readReasonCode(allowed: ReasonCodeSet, in packet: StaticString) throws(MQTTError) -> ReasonCode {
        let code = ReasonCode(rawValue: try need(self.readInteger(as: UInt8.self), "reason code"))
        guard allowed.contains(code) else { throw .protocolViolation("reason code \(code) is not allowed in \(packet)") }
        return code
    }
}
