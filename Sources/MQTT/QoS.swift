/// Quality of service of a PUBLISH (MQTT 5.0 §4.3).
public enum QoS: UInt8, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// QoS 0: at most once, no acknowledgement.
    case atMostOnce = 0
    /// QoS 1: at least once, acknowledged by PUBACK.
    case atLeastOnce = 1
    /// QoS 2: exactly once, by PUBREC, PUBREL and PUBCOMP.
    case exactlyOnce = 2

    /// Orders by level.
    public static func < (lhs: QoS, rhs: QoS) -> Bool { lhs.rawValue < rhs.rawValue }

    /// "QoS0", "QoS1" or "QoS2".
    public var description: String { "QoS\(rawValue)" }
}
