import NIOCore

/// Speaks RESP on one channel: decodes replies with a `RESPReader` and
/// hands them, in order, to its owner; runs the connection handshake
/// (`AUTH`, `SELECT`) first.
///
/// Writing is the owner's: it writes already encoded commands to the
/// channel. The handler reports one of two outcomes, once: `onReady` when
/// the handshake succeeded (replies follow through `onReply`), and
/// `onFailure` when the handshake was refused, the bytes were not RESP, the
/// reply was oversized, or the connection closed (also mid-reply). After a
/// failure it closes the channel and reports nothing more.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for this many handshake replies.
        case handshaking(remaining: Int)
        case ready
        case failed
    }

    private let reader: RESPReader
    private let handshake: [RedisCommand]
    private let onReady: () -> Void
    private let onReply: (RESPValue) -> Void
    private let onFailure: (RedisError) -> Void
    private var state: State

    /// - Parameters:
    ///   - handshake: commands sent first; each must succeed before
    ///     `onReady` (an error reply fails the connection with it).
    ///   - maximumReplyBytes: see `RESPReader`.
    init(
        handshake: [RedisCommand],
        maximumReplyBytes: Int,
        onReady: @escaping () -> Void,
        onReply: @escaping (RESPValue) -> Void,
        onFailure: @escaping (RedisError) -> Void
    ) throws(RedisError) {
        self.reader = try RESPReader(maximumReplyBytes: maximumReplyBytes)
        self.handshake = handshake
        self.onReady = onReady
        self.onReply = onReply
        self.onFailure = onFailure
        self.state = .handshaking(remaining: handshake.count)
    }

    /// `AUTH` and `SELECT` as `configuration` asks (none when it does not).
    static func handshake(for configuration: RedisConfiguration, selectDatabase: Bool) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        if let password = configuration.password {
            var auth = RedisCommand("AUTH", arguments: [])
            if let username = configuration.username { auth.arguments.append(.string(username)) }
            auth.arguments.append(.string(password))
            commands.append(auth)
        }
        if selectDatabase, let database = configuration.database, database != 0 {
            commands.append(RedisCommand("SELECT", database))
        }
        return commands
    }

    func channelActive(context: ChannelHandlerContext) {
        if self.handshake.isEmpty {
            self.state = .ready
            self.onReady()
        } else {
            var buffer = context.channel.allocator.buffer(capacity: 64)
            do {
                for command in self.handshake { try command.encode(into: &buffer) }
            } catch {
                self.fail(error, context: context)
                return
            }
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .failed = self.state { return }
        do {
            try self.reader.feed(self.unwrapInboundIn(data))
            while let reply = try self.reader.next() {
                switch self.state {
                case .ready:
                    self.onReply(reply)
                case .handshaking(let remaining):
                    if case .failure(let error) = reply.asResult {
                        self.fail(error, context: context)
                        return
                    }
                    if remaining > 1 {
                        self.state = .handshaking(remaining: remaining - 1)
                    } else {
                        self.state = .ready
                        self.onReady()
                    }
                case .failed:
                    return  // the owner dropped the connection from a callback
                }
            }
        } catch {
            self.fail(error, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(RedisError(.connection, message: "\(error)"), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let message = self.reader.bufferedBytes > 0 ? "connection closed in the middle of a reply" : "connection closed"
        self.fail(RedisError(.connection, message: message), context: context)
        context.fireChannelInactive()
    }

    /// Reports `error` (the first failure only) and closes the channel.
    private func fail(_ error: RedisError, context: ChannelHandlerContext) {
        if case .failed = self.state { return }
        self.state = .failed
        self.onFailure(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RedisChannelHandler: Sendable {}
