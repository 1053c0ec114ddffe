import NIOCore

/// Receive buffers that a connection does not keep while its client is idle
/// (decision 0010).
///
/// A NIO channel keeps the buffer of its last read to reuse it
/// (`NIOPooledRecvBufferAllocator`): with the default adaptive allocator that
/// is 2 KiB or more held by every idle connection, forever. This allocator
/// tells the channel's pool never to reuse one: `nextBufferSize()` gives no
/// hint and `record(actualReadBytes:)` says the next buffer may grow. Every
/// read then gets a buffer of its own, freed once its bytes are handled, as
/// NIO did before it pooled them. The pool still stores the first buffer a
/// channel reads into, and never uses it again: that first read is
/// `firstReadCapacity` bytes. The pool stores up to `maxMessagesPerRead`
/// buffers, so the server sets that option to 1.
///
/// Sizes adapt as `AdaptiveRecvByteBufferAllocator`'s do, in powers of two:
/// a read that fills its buffer doubles the next, two reads in a row that
/// fill at most half of theirs halve it. The state is 8 bytes, so a channel
/// stores it inline rather than in a box of its own.
struct MQTTReceiveBufferAllocator: RecvByteBufferAllocator {
    /// The size of a connection's first read, a buffer it keeps for life.
    static let firstReadCapacity = 16
    static let minimumCapacity = 64
    static let initialCapacity = 2048
    static let maximumCapacity = 65_536

    /// The next buffer's size; 0 before the first read.
    private var capacity: UInt32 = 0
    /// The last read filled at most half of its buffer.
    private var shrinkNext = false

    init() {}

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(capacity: capacity == 0 ? Self.firstReadCapacity : Int(capacity))
    }

    /// No hint: a hint lets the pool reuse (and so keep) a buffer.
    func nextBufferSize() -> Int? {
        nil
    }

    mutating func record(actualReadBytes: Int) -> Bool {
        if capacity == 0 {
            // The first read filled a tiny buffer; it says nothing of sizes.
            capacity = UInt32(Self.initialCapacity)
        } else if actualReadBytes >= Int(capacity) {
            capacity = UInt32(min(Int(capacity) * 2, Self.maximumCapacity))
            shrinkNext = false
        } else if actualReadBytes <= Int(capacity) / 2 {
            if shrinkNext {
                capacity = UInt32(max(Int(capacity) / 2, Self.minimumCapacity))
                shrinkNext = false
            } else {
                shrinkNext = true
            }
        } else {
            shrinkNext = false
        }
        // "May grow": the pool then allocates anew instead of reusing.
        return true
    }
}
