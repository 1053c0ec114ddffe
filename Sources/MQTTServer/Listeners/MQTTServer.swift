import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// An MQTT 3.1.1 and 5.0 server: listeners on TCP, TLS and WebSocket, one
/// engine, and a router that gives PUBLISH and SUBSCRIBE their meaning.
public final class MQTTServer: Sendable {
    /// One listening socket.
    public struct Listener: Sendable {
        /// How bytes reach MQTT on this listener.
        public enum Transport: Sendable {
            case tcp
            /// TLS over TCP with this server context.
            case tls(NIOSSLContext)
            /// MQTT over WebSocket, subprotocol `mqtt` (MQTT 5.0 §6), any path.
            case webSocket
        }

        public var host: String
        public var port: Int
        public var transport: Transport

        public init(host: String, port: Int, transport: Transport = .tcp) {
            self.host = host
            self.port = port
            self.transport = transport
        }
    }

    /// A listener that is accepting connections, with the address it got
    /// (the real port when 0 was asked).
    public struct BoundListener: Sendable {
        public var listener: Listener
        public var address: SocketAddress

        /// `mqtt://`, `mqtts://` or `ws://` URL of the listener.
        public var url: String {
            let scheme: String
            switch listener.transport {
            case .tcp: scheme = "mqtt"
            case .tls: scheme = "mqtts"
            case .webSocket: scheme = "ws"
            }
            return "\(scheme)://\(address.ipAddress ?? listener.host):\(address.port ?? listener.port)"
        }
    }

    private let context: ServerContext
    private let group: any EventLoopGroup
    private let channels = NIOLockedValueBox<[any Channel]>([])

    /// Creates a server. Nothing listens until `start(_:)`.
    public init(
        configuration: MQTTServerConfiguration = .init(),
        router: any MQTTRouter,
        authenticator: any MQTTAuthenticator = AllowAllAuthenticator(),
        group: any EventLoopGroup,
        logger: Logger = Logger(label: "mqtt")
    ) {
        self.context = ServerContext(configuration: configuration, router: router, authenticator: authenticator, logger: logger)
        self.group = group
    }

    /// The configuration the server runs with.
    public var configuration: MQTTServerConfiguration { context.configuration }

    /// The session of a client identifier, if it exists.
    public func session(clientIdentifier: String) -> MQTTSession? {
        context.registry.session(clientIdentifier)
    }

    /// Number of sessions, connected or not.
    public var sessionCount: Int { context.registry.count }

    /// Binds every listener; returns them with the addresses they got.
    public func start(_ listeners: [Listener]) async throws -> [BoundListener] {
        var bound: [BoundListener] = []
        for listener in listeners {
            let channel = try await bind(listener)
            channels.withLockedValue { $0.append(channel) }
            bound.append(BoundListener(listener: listener, address: channel.localAddress!))
        }
        return bound
    }

    /// Disconnects every client with `reasonCode` (0x8B Server shutting
    /// down, or 0x9C/0x9D with a Server Reference for a failover), then
    /// stops listening.
    public func shutdown(reasonCode: ReasonCode = .serverShuttingDown, properties: MQTTProperties = .init()) async {
        for session in context.registry.allSessions {
            session.disconnect(reasonCode: reasonCode, properties: properties)
        }
        let listening = channels.withLockedValue { channels in
            defer { channels = [] }
            return channels
        }
        for channel in listening {
            try? await channel.close()
        }
    }

    private func bind(_ listener: Listener) async throws -> any Channel {
        let context = self.context
        let configuration = context.configuration
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(
            low: max(1, configuration.maximumOutgoingBytes / 2),
            high: max(2, configuration.maximumOutgoingBytes)
        )
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: waterMark)
            // An idle connection keeps no receive buffer (decision 0010);
            // with more than one read per wake-up NIO would keep up to that many.
            .childChannelOption(.recvAllocator, value: MQTTReceiveBufferAllocator())
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, transport: listener.transport, context: context)
                }
            }
        return try await bootstrap.bind(host: listener.host, port: listener.port).get()
    }

    private static func configure(_ channel: any Channel, transport: Listener.Transport, context: ServerContext) throws {
        let pipeline = channel.pipeline.syncOperations
        switch transport {
        case .tcp:
            try addMQTT(to: pipeline, context: context)
        case .tls(let sslContext):
            try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
            try addMQTT(to: pipeline, context: context)
        case .webSocket:
            let maxFrame = Int(min(context.configuration.maximumPacketSize, 16 * 1_048_576))
            let upgrader = NIOWebSocketServerUpgrader(
                maxFrameSize: maxFrame,
                automaticErrorHandling: true,
                shouldUpgrade: { channel, head in
                    // MQTT 5.0 §6.0: the client offers subprotocol "mqtt".
                    let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }
                    guard offered.contains("mqtt") else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    return channel.eventLoop.makeSucceededFuture(HTTPHeaders([("Sec-WebSocket-Protocol", "mqtt")]))
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(WebSocketMQTTBridge())
                        try addMQTT(to: pipeline, context: context)
                    }
                }
            )
            try pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                context.pipeline.removeHandler(name: CloseOnHTTPError.name, promise: nil)
            }))
            try pipeline.addHandler(CloseOnHTTPError(), name: CloseOnHTTPError.name)
        }
    }

    /// Adds what speaks MQTT on a connection's bytes: one handler, which
    /// frames its input too (see `MQTTConnectionHandler`).
    static func addMQTT(to pipeline: ChannelPipeline.SynchronousOperations, context: ServerContext) throws {
        try pipeline.addHandler(MQTTConnectionHandler(server: context))
    }
}

/// Closes a WebSocket listener's connection when its HTTP request is bad
/// (after NIO's error handler has answered 400). Leaves once upgraded.
private final class CloseOnHTTPError: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    static let name = "close-on-http-error"

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension CloseOnHTTPError: Sendable {}
