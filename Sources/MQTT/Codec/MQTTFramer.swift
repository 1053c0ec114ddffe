import NIOCore

/// Splits a byte stream into frames (MQTT 5.0 §2.1).
public enum MQTTFramer {
    /// Reads one frame from the front of `buffer`.
    ///
    /// Returns nil and leaves `buffer` untouched when the frame is not complete.
    /// Throws `.malformedPacket` for the reserved packet type 0 or a Remaining
    /// Length over 4 bytes (a fourth byte with its continuation bit set is
    /// enough to know), and `.packetTooLarge` as soon as the Remaining Length
    /// is decoded if the whole packet would exceed `maximumPacketSize` (before
    /// waiting for, or allocating, the body). The frame's body is a slice of
    /// `buffer`, not a copy. A Remaining Length in more bytes than needed is
    /// accepted (MQTT 5.0 §1.5.5 only says "should" be minimal).
    public static func readFrame(from buffer: inout ByteBuffer, maximumPacketSize: UInt32) throws(MQTTError) -> MQTTFrame? {
        let start = buffer.readerIndex
        guard let header = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        guard header >> 4 != 0 else { throw .malformed("reserved packet type 0") }
        switch buffer.peekVariableByteInteger(at: start + 1) {
        case .incomplete:
            return nil
        case .tooLong:
            throw .malformed("remaining length longer than 4 bytes")
        case .value(let remainingLength, let byteCount):
            let packetSize = UInt64(1 + byteCount) + UInt64(remainingLength)
            guard packetSize <= UInt64(maximumPacketSize) else {
                throw MQTTError(.packetTooLarge, "packet of \(packetSize) bytes exceeds the maximum of \(maximumPacketSize)")
            }
            guard buffer.readableBytes >= Int(packetSize) else { return nil }
            buffer.moveReaderIndex(forwardBy: 1 + byteCount)
            let body = buffer.readSlice(length: Int(remainingLength))!
            return MQTTFrame(header: header, body: body)
        }
    }
}

/// A `NIOSingleStepByteToMessageDecoder` that yields `MQTTFrame`s through
/// `MQTTFramer.readFrame(from:maximumPacketSize:)`.
public struct MQTTFrameDecoder: NIOSingleStepByteToMessageDecoder {
    /// What the decoder produces.
    public typealias InboundOut = MQTTFrame

    /// The largest packet accepted, fixed header included (MQTT 5.0 §3.1.2.11.4).
    /// The server may change it once it has the client's CONNECT.
    public var maximumPacketSize: UInt32

    /// A decoder that refuses packets larger than `maximumPacketSize` bytes.
    public init(maximumPacketSize: UInt32 = MQTTLimits.maximumPacketSize) {
        self.maximumPacketSize = maximumPacketSize
    }

    /// Reads one frame, or nil when it has not fully arrived.
    public mutating func decode(buffer: inout ByteBuffer) throws -> MQTTFrame? {
        try MQTTFramer.readFrame(from: &buffer, maximumPacketSize: self.maximumPacketSize)
    }

    /// Reads one frame at end of input. A partial frame left over is not an
    /// error here: the connection is closing anyway.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> MQTTFrame? {
        try self.decode(buffer: &buffer)
    }
}
