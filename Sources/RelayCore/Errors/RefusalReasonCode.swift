/// MQTT 5.0 reason code bytes that RelayCore's refusals map to.
///
/// RelayCore does not import the `MQTT` module (which brings NIOCore with it)
/// so that the domain stays free of I/O libraries: refusals carry the plain
/// byte, and the MQTT edge turns it into `MQTT.ReasonCode(rawValue:)`. The
/// values are the ones `MQTT.ReasonCode` names (MQTT 5.0 §2.4); the tests
/// check that they agree. Only codes valid in a PUBACK (§3.4.2.1: 0x80, 0x83,
/// 0x87, 0x90, 0x91, 0x97, 0x99) or a SUBACK (§3.9.3: 0x80, 0x83, 0x87, 0x8F,
/// 0x91, 0x97, 0x9E, 0xA1, 0xA2) are used for refusals of those packets.
public enum RefusalReasonCode {
    /// 0x80 Unspecified error.
    public static let unspecifiedError: UInt8 = 0x80
    /// 0x83 Implementation specific error: the refusal's error code says which.
    public static let implementationSpecificError: UInt8 = 0x83
    /// 0x87 Not authorized.
    public static let notAuthorized: UInt8 = 0x87
    /// 0x8F Topic Filter invalid.
    public static let topicFilterInvalid: UInt8 = 0x8F
    /// 0x90 Topic Name invalid.
    public static let topicNameInvalid: UInt8 = 0x90
    /// 0x97 Quota exceeded.
    public static let quotaExceeded: UInt8 = 0x97
    /// 0x99 Payload format invalid.
    public static let payloadFormatInvalid: UInt8 = 0x99
}
