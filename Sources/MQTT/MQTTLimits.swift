/// Protocol limits, each citing the section of the standard that sets it.
/// Decoders check these before allocating.
public enum MQTTLimits {
    /// A Variable Byte Integer is at most four bytes (MQTT 5.0 §1.5.5, MQTT 3.1.1 §2.2.3).
    public static let variableByteIntegerMaxBytes = 4
    /// The largest value a Variable Byte Integer can hold: 268,435,455 (MQTT 5.0 §1.5.5).
    public static let variableByteIntegerMax: UInt32 = 268_435_455
    /// The largest Remaining Length, hence the largest packet body (MQTT 5.0 §2.1.4).
    public static let maximumRemainingLength: UInt32 = 268_435_455
    /// The largest packet: a one-byte header, a four-byte Remaining Length and
    /// the largest body (MQTT 5.0 §3.1.2.11.4: Maximum Packet Size counts the whole packet).
    public static let maximumPacketSize: UInt32 = 268_435_460
    /// A UTF-8 encoded string is at most 65,535 bytes (MQTT 5.0 §1.5.4).
    public static let maximumStringLength = 65_535
    /// Binary Data is at most 65,535 bytes (MQTT 5.0 §1.5.6).
    public static let maximumBinaryLength = 65_535
    /// Topic names and filters are UTF-8 strings, so at most 65,535 bytes (MQTT 5.0 §4.7.3).
    public static let maximumTopicLength = 65_535
    /// Packet identifiers are non-zero 16-bit integers (MQTT 5.0 §2.2.1).
    public static let maximumPacketIdentifier: UInt16 = 65_535
    /// Receive Maximum is 1...65,535; absent means 65,535 (MQTT 5.0 §3.1.2.11.3).
    public static let defaultReceiveMaximum: UInt16 = 65_535
    /// A Subscription Identifier is 1...268,435,455 (MQTT 5.0 §3.8.2.1.2).
    public static let maximumSubscriptionIdentifier: UInt32 = 268_435_455
    /// MQTT 3.1.1 servers must accept client identifiers of 1...23 bytes and
    /// may accept longer (MQTT 3.1.1 §3.1.3.1, MQTT 5.0 §3.1.3.1). This server
    /// accepts up to this many bytes.
    public static let maximumClientIdentifierLength = 256
    /// MQTT 3.1 client identifiers are 1 to 23 characters; any other is
    /// refused with CONNACK return code 2, identifier rejected (MQTT 3.1 §3.1).
    public static let maximumClientIdentifierLengthV31 = 23
    /// Session Expiry Interval 0xFFFFFFFF means the session never expires (MQTT 5.0 §3.1.2.11.2).
    public static let sessionNeverExpires: UInt32 = 0xFFFF_FFFF
    /// The protocol name in CONNECT (MQTT 5.0 §3.1.2.1).
    public static let protocolName = "MQTT"
    /// The protocol name in an MQTT 3.1 CONNECT, with protocol level 3 (MQTT 3.1 §3.1).
    public static let protocolNameV31 = "MQIsdp"
    /// The number of properties in one packet is bounded by its length, but a
    /// server still limits user properties so a packet cannot make it do
    /// unbounded per-item work (an implementation limit, not in the standard).
    public static let maximumUserProperties = 1024
    /// Topic filters in one SUBSCRIBE or UNSUBSCRIBE (an implementation limit;
    /// the standard only requires at least one, MQTT 5.0 §3.8.3).
    public static let maximumTopicFiltersPerPacket = 1024
}
