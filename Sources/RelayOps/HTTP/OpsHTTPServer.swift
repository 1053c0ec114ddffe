import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP/1.1 listener of the operability endpoints (`--http-listen`),
/// on the relay's event loops, apart from the MQTT listeners.
public final class OpsHTTPServer: Sendable {
    private let channel: any Channel

    /// The address it listens on (the real port when 0 was asked).
    public var address: SocketAddress? { channel.localAddress }

    /// `http://HOST:PORT` of the listener.
    public var url: String {
        "http://\(address?.ipAddress ?? "?"):\(address?.port ?? 0)"
    }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `host:port` and serves `endpoints` there.
    public static func start(host: String, port: Int, endpoints: OpsEndpoints, group: any EventLoopGroup) async throws -> OpsHTTPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(OpsHTTPHandler(endpoints: endpoints))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return OpsHTTPServer(channel: channel)
    }

    /// Stops listening (connections in progress finish on their own).
    public func close() async {
        try? await channel.close()
    }
}
