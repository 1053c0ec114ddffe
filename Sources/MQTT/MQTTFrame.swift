import NIOCore

/// One framed packet: the fixed header's first byte and the body (the
/// Remaining Length bytes), before the body is decoded (MQTT 5.0 §2.1).
public struct MQTTFrame: Hashable, Sendable {
    /// Packet type (high nibble) and flags (low nibble).
    public var header: UInt8
    /// The packet after the fixed header; `readableBytes` is the Remaining Length.
    public var body: ByteBuffer

    /// A frame from its first header byte and its body.
    public init(header: UInt8, body: ByteBuffer) {
        self.header = header
        self.body = body
    }

    /// The packet type, or nil for the reserved type 0.
    public var packetType: PacketType? { PacketType(rawValue: header >> 4) }
    /// The four flag bits of the fixed header.
    public var flags: UInt8 { header & 0x0F }
}
