import NIOCore

/// Receive buffers that a connection does not keep while its client is idle
/// (decision 0010).
///
/// A NIO channel keeps the buffer of its last read to reuse it
/// (`NIOPooledRecvBufferAllocator`): with the default adaptive allocator that
/// is 2 KiB or more held by every idle connection, forever. This allocator
/// sizes buffers as `AdaptiveRecvByteBufferAllocator` does, but tells the
/// channel's pool never to reuse one: `nextBufferSize()` gives no hint and
/// `record(actualReadBytes:)` says the next buffer may grow. Every read then
/// gets a buffer of its own, freed once its bytes are handled, as NIO did
/// before it pooled them. The pool still stores the first buffer a channel
/// reads into, and never uses it again: that first read is
/// `firstReadCapacity` bytes. The pool stores up to `maxMessagesPerRead`
/// buffers, so the server sets that option to 1.
struct MQTTReceiveBufferAllocator: RecvByteBufferAllocator {
    /// The size of a connection's first read, a buffer it keeps for life.
    static let firstReadCapacity = 16

    private var adaptive: AdaptiveRecvByteBufferAllocator
    private var firstRead = true

    /// Buffers sized by `adaptive` after the first read.
    init(adaptive: AdaptiveRecvByteBufferAllocator = AdaptiveRecvByteBufferAllocator()) {
        self.adaptive = adaptive
    }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        firstRead ? allocator.buffer(capacity: Self.firstReadCapacity) : adaptive.buffer(allocator: allocator)
    }

    /// No hint: a hint lets the pool reuse (and so keep) a buffer.
    func nextBufferSize() -> Int? {
        nil
    }

    mutating func record(actualReadBytes: Int) -> Bool {
        if firstRead {
            // The first read filled a tiny buffer; it says nothing of sizes.
            firstRead = false
        } else {
            _ = adaptive.record(actualReadBytes: actualReadBytes)
        }
        // "May grow": the pool then allocates anew instead of reusing.
        return true
    }
}
