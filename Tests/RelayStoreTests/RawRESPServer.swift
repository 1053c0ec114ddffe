import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server on loopback that answers whatever it reads with canned
/// bytes, then optionally closes: to feed the client replies no Redis sends.
final class RawRESPServer: Sendable {
    private let channel: any Channel
    /// Connections accepted so far.
    private let accepted = NIOLockedValueBox(0)

    /// The port it listens on (127.0.0.1).
    var port: Int { self.channel.localAddress?.port ?? 0 }

    /// How many connections it accepted.
    var connections: Int { self.accepted.withLockedValue { $0 } }

    /// Listens; on the first bytes of each connection it writes `reply`,
    /// then closes the connection when `thenClose`.
    init(reply: [UInt8], thenClose: Bool) async throws {
        let accepted = self.accepted
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(reply: reply, thenClose: thenClose))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func close() async throws {
        try await self.channel.close()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: [UInt8]
        let thenClose: Bool
        var answered = false

        init(reply: [UInt8], thenClose: Bool) {
            self.reply = reply
            self.thenClose = thenClose
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.answered else { return }
            self.answered = true
            let close = self.thenClose
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: self.reply))).assumeIsolated().whenComplete { _ in
                if close { context.close(promise: nil) }
            }
        }
    }
}
