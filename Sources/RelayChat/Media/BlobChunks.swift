import NIOCore
import RelayCore
import RelayMedia

/// A complete blob as an async sequence of chunks read from its store one
/// at a time as they are pulled (memory: one chunk), for a request body.
struct BlobChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let store: any BlobStore
    let id: MediaID
    let length: UInt64
    static let chunkBytes: UInt64 = 1024 * 1024

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: BlobChunks
        var offset: UInt64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < chunks.length else { return nil }
            let last = Swift.min(offset + BlobChunks.chunkBytes, chunks.length) - 1
            var buffer = ByteBuffer()
            try await chunks.store.read(chunks.id, first: offset, last: last) { part in
                var part = part
                buffer.writeBuffer(&part)
            }
            guard buffer.readableBytes == Int(last - offset + 1) else { throw MediaRefusal.internalError("blob \(chunks.id) is shorter than its record") }
            offset = last + 1
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self) }
}
