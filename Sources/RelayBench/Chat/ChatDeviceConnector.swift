import NIOCore
import NIOPosix

/// Opens benchmark device connections.
enum ChatDeviceConnector {
    /// Connects to `host:port` from `source` (any local port), with
    /// TCP_NODELAY, and installs the handler `makeHandler` builds on the
    /// channel's event loop. The future fails when TCP does not connect
    /// within `timeout`; CONNACK and SUBACK are the handler's to report.
    static func connect(
        host: String,
        port: Int,
        source: SocketAddress?,
        timeout: TimeAmount,
        on loop: any EventLoop,
        makeHandler: @escaping @Sendable () -> ChatDeviceHandler
    ) -> EventLoopFuture<any Channel> {
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
        if let source {
            bootstrap = bootstrap.bind(to: source)
        }
        return bootstrap.connect(host: host, port: port)
    }

    /// Local addresses to connect from, one per entry of `hosts` (port 0:
    /// any); several loopback addresses give more than one range of
    /// ephemeral ports towards one relay port.
    static func sourceAddresses(_ hosts: [String]) throws -> [SocketAddress] {
        try hosts.map { try SocketAddress(ipAddress: $0, port: 0) }
    }
}
