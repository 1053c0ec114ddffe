import NIOCore

/// The payload every benchmark PUBLISH carries: the send time (monotonic
/// nanoseconds, `NIODeadline.now().uptimeNanoseconds`, comparable across
/// threads of one process), the per-pair sequence number, then filler up to
/// the requested size. Both integers are big-endian.
enum BenchPayload {
    /// Send timestamp (8 bytes) and sequence number (8 bytes).
    static let headerSize = 16
    /// The filler byte: printable, so a captured payload is easy to read.
    static let fillerByte: UInt8 = 0x2E

    /// A payload of `size` bytes (at least `headerSize`).
    static func make(sentAt: UInt64, sequence: UInt64, size: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: size)
        buffer.writeInteger(sentAt)
        buffer.writeInteger(sequence)
        buffer.writeRepeatingByte(fillerByte, count: size - headerSize)
        return buffer
    }

    /// Reads the timestamp and sequence number, or nil when the payload is too short.
    static func read(_ payload: ByteBuffer) -> (sentAt: UInt64, sequence: UInt64)? {
        guard
            let sentAt = payload.getInteger(at: payload.readerIndex, as: UInt64.self),
            let sequence = payload.getInteger(at: payload.readerIndex + 8, as: UInt64.self)
        else { return nil }
        return (sentAt, sequence)
    }
}
