import CHiredis
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connection to Redis: the owner of one hiredis `redisContext`.
///
/// Not thread-safe (hiredis contexts are not): use it from one thread at a
/// time. `RedisClient` and `RedisSubscriber` give each of their threads one.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// SHA1s of the scripts loaded through this connection (see `RedisScript`).
    var loadedScripts: Set<String> = []

    private init(context: UnsafeMutablePointer<redisContext>) {
        self.context = context
    }

    deinit {
        redisFree(self.context)
    }

    /// Connects to `host:port`, then authenticates and selects a database
    /// when asked to.
    ///
    /// - Parameters:
    ///   - connectTimeout: the longest the TCP connect may take.
    ///   - commandTimeout: the longest a read or write of the socket may
    ///     block (nil: no limit). A connection that timed out must be
    ///     dropped: its replies are no longer in step with its commands.
    ///   - username: the ACL user for `AUTH` (nil: the default user).
    ///   - password: sent with `AUTH` when given.
    ///   - database: selected with `SELECT` when given.
    public static func connect(
        host: String,
        port: Int,
        connectTimeout: TimeAmount = .seconds(5),
        commandTimeout: TimeAmount? = .seconds(5),
        username: String? = nil,
        password: String? = nil,
        database: Int? = nil
    ) throws(RedisError) -> RedisConnection {
        guard let raw = redisConnectWithTimeout(host, Int32(port), timeval(connectTimeout)) else {
            throw RedisError(.connection, message: "cannot allocate a hiredis context")
        }
        // From here on the context is owned: `deinit` frees it on every failure path.
        let connection = RedisConnection(context: raw)
        if raw.pointee.err != 0 {
            throw RedisError(.connection, message: "connect to \(host):\(port): \(connection.contextError)")
        }
        if let commandTimeout {
            guard redisSetTimeout(raw, timeval(commandTimeout)) == REDIS_OK else {
                throw RedisError(.connection, message: "set timeout: \(connection.contextError)")
            }
        }
        if let password {
            var auth = RedisCommand("AUTH", arguments: [])
            if let username { auth.arguments.append(.string(username)) }
            auth.arguments.append(.string(password))
            _ = try connection.execute(auth).get()
        }
        if let database, database != 0 {
            _ = try connection.execute(RedisCommand("SELECT", database)).get()
        }
        return connection
    }

    /// The socket, for `poll()`.
    var fileDescriptor: Int32 { self.context.pointee.fd }

    /// Whether the context has seen an error; a failed connection is not reusable.
    public var isBroken: Bool { self.context.pointee.err != 0 }

    private var contextError: String {
        withUnsafeBytes(of: self.context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The error that the context's current failure maps to.
    private func contextFailure(_ what: String) -> RedisError {
        let err = self.context.pointee.err
        let text = self.contextError
        switch err {
        case REDIS_ERR_PROTOCOL:
            return RedisError(.protocol, message: "\(what): \(text)")
        case REDIS_ERR_IO where errno == EAGAIN || errno == EWOULDBLOCK || text.contains("temporarily unavailable"):
            return RedisError(.timeout, message: "\(what): \(text)")
        default:
            return RedisError(.connection, message: "\(what): \(text.isEmpty ? "error \(err)" : text)")
        }
    }

    // MARK: Commands

    /// Appends `command` to the output buffer without sending it. Arguments
    /// go through `redisAppendCommandArgv`, so any bytes are safe.
    public func append(_ command: RedisCommand) throws(RedisError) {
        var storage: [UInt8] = []
        var lengths: [Int] = []
        lengths.reserveCapacity(command.arguments.count + 1)
        storage.append(contentsOf: command.name.utf8)
        lengths.append(command.name.utf8.count)
        for argument in command.arguments {
            let before = storage.count
            switch argument {
            case .string(let string): storage.append(contentsOf: string.utf8)
            case .bytes(let buffer): storage.append(contentsOf: buffer.readableBytesView)
            case .integer(let value): storage.append(contentsOf: String(value).utf8)
            }
            lengths.append(storage.count - before)
        }
        // hiredis rejects a NULL argv entry, so give the (possibly empty)
        // storage at least one byte of capacity to point into.
        storage.reserveCapacity(max(1, storage.count))
        let status: Int32 = storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(lengths.count)
            var offset = 0
            for length in lengths {
                pointers.append(base + offset)
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAppendCommandArgv(self.context, Int32(argv.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
        guard status == REDIS_OK else { throw self.contextFailure("append \(command.name)") }
    }

    /// Flushes the output buffer if needed and blocks for the next reply.
    /// An error reply is a `.success(.error)` at this level: only a failure of
    /// the connection throws.
    public func readReply() throws(RedisError) -> RESPValue {
        var reply: UnsafeMutableRawPointer? = nil
        guard redisGetReply(self.context, &reply) == REDIS_OK, let reply else {
            throw self.contextFailure("read reply")
        }
        defer { freeReplyObject(reply) }
        return RESPValue(reply.assumingMemoryBound(to: redisReply.self))
    }

    /// Sends one command and waits for its reply; an error reply becomes a
    /// `.server` failure.
    public func execute(_ command: RedisCommand) throws(RedisError) -> Result<RESPValue, RedisError> {
        try self.append(command)
        return try self.readReply().asResult
    }

    /// Sends `commands` in one write and reads their replies in order.
    /// Throws only when the connection fails, which leaves it broken.
    public func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        for command in commands { try self.append(command) }
        var results: [Result<RESPValue, RedisError>] = []
        results.reserveCapacity(commands.count)
        for _ in commands { results.append(try self.readReply().asResult) }
        return results
    }

    // MARK: Non-blocking use (Pub/Sub)

    /// Puts the socket in non-blocking mode for a `poll()` loop; only the
    /// `buffer…` methods below are to be used after this.
    func makeNonBlocking() throws(RedisError) {
        let fd = self.context.pointee.fd
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw RedisError(.connection, message: "fcntl O_NONBLOCK failed: errno \(errno)")
        }
        self.context.pointee.flags &= ~Int32(REDIS_BLOCK)
    }

    /// Writes as much of the output buffer as the socket takes; returns
    /// whether all of it was written.
    func bufferWrite() throws(RedisError) -> Bool {
        var done: Int32 = 0
        guard redisBufferWrite(self.context, &done) == REDIS_OK else { throw self.contextFailure("write") }
        return done != 0
    }

    /// Reads what the socket has into the reply reader.
    func bufferRead() throws(RedisError) {
        guard redisBufferRead(self.context) == REDIS_OK else { throw self.contextFailure("read") }
    }

    /// The next complete reply already read, if any.
    func nextBufferedReply() throws(RedisError) -> RESPValue? {
        var reply: UnsafeMutableRawPointer? = nil
        guard redisGetReplyFromReader(self.context, &reply) == REDIS_OK else {
            throw self.contextFailure("parse reply")
        }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return RESPValue(reply.assumingMemoryBound(to: redisReply.self))
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}

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
            elements.reserveCapacity(Int(r.elements))
            for index in 0..<Int(r.elements) {
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

extension timeval {
    fileprivate init(_ amount: TimeAmount) {
        let nanoseconds = max(0, amount.nanoseconds)
        self.init(
            tv_sec: .init(nanoseconds / 1_000_000_000),
            tv_usec: .init((nanoseconds % 1_000_000_000) / 1_000)
        )
    }
}
