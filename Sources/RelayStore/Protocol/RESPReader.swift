import CHiredis
import NIOCore

/// Decodes RESP replies from bytes: the owner of one hiredis `redisReader`,
/// used as a pure parser (it never touches a socket).
///
/// Not thread-safe: one `RedisChannelHandler` owns it, on its event loop.
final class RESPReader {
    private let reader: UnsafeMutablePointer<redisReader>
    /// The most bytes one incomplete reply may hold in the reader before it
    /// is refused as oversized.
    let maximumReplyBytes: Int

    /// A reader that refuses a reply once `maximumReplyBytes` of it are
    /// buffered and still incomplete. Throws `.protocol` when hiredis cannot
    /// allocate the reader.
    init(maximumReplyBytes: Int) throws(RedisError) {
        guard let reader = redisReaderCreate() else {
            throw RedisError(.protocol, message: "cannot allocate a hiredis reader")
        }
        self.reader = reader
        self.maximumReplyBytes = maximumReplyBytes
    }

    deinit {
        redisReaderFree(self.reader)
    }

    /// Bytes buffered that do not make a complete reply yet.
    var bufferedBytes: Int {
        let pending = self.reader.pointee.len &- self.reader.pointee.pos
        return Int(clamping: pending)
    }

    /// Hands the readable bytes of `buffer` to the parser.
    func feed(_ buffer: ByteBuffer) throws(RedisError) {
        guard buffer.readableBytes > 0 else { return }
        let status = buffer.withUnsafeReadableBytes { raw in
            redisReaderFeed(self.reader, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard status == REDIS_OK else { throw self.failure() }
    }

    /// The next complete reply, or nil when the bytes fed so far end inside
    /// one. Throws `.protocol` for bytes that are not RESP and for a reply
    /// larger than `maximumReplyBytes`; the reader is unusable after that.
    func next() throws(RedisError) -> RESPValue? {
        var reply: UnsafeMutableRawPointer? = nil
        guard redisReaderGetReply(self.reader, &reply) == REDIS_OK else { throw self.failure() }
        guard let reply else {
            if self.bufferedBytes > self.maximumReplyBytes {
                throw RedisError(.protocol, message: "reply larger than \(self.maximumReplyBytes) bytes")
            }
            return nil
        }
        defer { freeReplyObject(reply) }
        return RESPValue(reply.assumingMemoryBound(to: redisReply.self))
    }

    private func failure() -> RedisError {
        let text = withUnsafeBytes(of: self.reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return RedisError(.protocol, message: text.isEmpty ? "hiredis reader error \(self.reader.pointee.err)" : text)
    }
}

@available(*, unavailable)
extension RESPReader: Sendable {}

extension RESPValue {
    /// Copies a hiredis reply tree.
    fileprivate init(_ reply: UnsafeMutablePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            var buffer = ByteBuffer()
            if r.len > 0, let str = r.str {
                buffer.writeBytes(UnsafeRawBufferPointer(start: str, count: Int(r.len)))
            }
            self = .bulk(buffer)
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            let count = Int(r.elements)
            elements.reserveCapacity(count)
            for index in 0..<count {
                if let element = r.element[index] {
                    elements.append(RESPValue(element))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        case REDIS_REPLY_INTEGER:
            self = .integer(r.integer)
        case REDIS_REPLY_STATUS:
            self = .simpleString(Self.text(r))
        case REDIS_REPLY_ERROR:
            self = .error(Self.text(r))
        default:
            self = .null
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard let str = r.str, r.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: Int(r.len)), as: UTF8.self)
    }

    /// A top-level error reply as a failure, anything else as success.
    var asResult: Result<RESPValue, RedisError> {
        if case .error(let text) = self { return .failure(RedisError(serverReply: text)) }
        return .success(self)
    }
}
