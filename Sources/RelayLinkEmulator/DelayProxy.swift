import NIOCore
import NIOPosix
import RelayOps
import Synchronization

/// A TCP proxy that makes a loopback connection behave like a WAN link:
/// it delays, paces and "loses" what it forwards (``LinkPacer`` has the
/// model), and can be cut (a partition) and healed through its control
/// listener (``LinkControlCommand``).
///
/// While cut, the proxy closes its listening socket, so connects are refused,
/// and it closes every proxied connection; `heal` listens again on the same
/// address.
public final class DelayProxy: Sendable {
    /// Where the proxy listens for connections (the port is the bound one).
    public let listenAddress: SocketAddress
    /// Where its control listener listens, if it has one.
    public let controlAddress: SocketAddress?

    private let controller: LinkController
    private let control: (any Channel)?

    private init(controller: LinkController, listenAddress: SocketAddress, control: (any Channel)?) {
        self.controller = controller
        self.listenAddress = listenAddress
        self.control = control
        self.controlAddress = control?.localAddress
    }

    /// Starts a proxy on `listen` that forwards to `to` under `conditions`,
    /// with a control listener on `control` when given (port 0 picks a free port).
    /// A connection `to` refuses goes to the first of `alternates` that
    /// takes it (a region's other relay nodes, decision 0027).
    public static func start(
        listen: HostPort, to: HostPort, alternates: [HostPort] = [], control: HostPort?, conditions: LinkConditions,
        group: any EventLoopGroup
    ) async throws -> DelayProxy {
        let to = [to] + alternates
        let state = LinkState(conditions: conditions)
        let server = try await LinkController.bind(host: listen.host, port: listen.port, to: to, state: state, group: group).get()
        guard let bound = server.localAddress, let port = bound.port else {
            try? await server.close()
            throw LinkControlError("the proxy's listener has no address")
        }
        let controller = LinkController(
            state: state, server: server, group: group,
            listen: HostPort(host: listen.host, port: port), to: to
        )
        var controlChannel: (any Channel)?
        if let control {
            do {
                controlChannel = try await ServerBootstrap(group: group)
                    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(LinkControlHandler(controller: controller))
                        }
                    }
                    .bind(host: control.host, port: control.port)
                    .get()
            } catch {
                try? await server.close()
                throw error
            }
        }
        return DelayProxy(controller: controller, listenAddress: bound, control: controlChannel)
    }

    /// Applies a control command as the control listener would; returns the reply line.
    public func apply(_ command: LinkControlCommand) async -> String {
        (try? await controller.apply(command).get()) ?? "error: the event loop is gone"
    }

    /// Stops listening and closes every proxied connection.
    public func close() async {
        _ = await apply(.cut)
        try? await control?.close()
    }
}

/// Applies control commands: the shared ``LinkState`` and the listening
/// socket, which a cut closes and a heal opens again.
final class LinkController: Sendable {
    let state: LinkState
    private let server: Mutex<(any Channel)?>
    private let group: any EventLoopGroup
    private let listen: HostPort
    private let to: [HostPort]

    init(state: LinkState, server: any Channel, group: any EventLoopGroup, listen: HostPort, to: [HostPort]) {
        self.state = state
        self.server = Mutex(server)
        self.group = group
        self.listen = listen
        self.to = to
    }

    /// Applies `command`; the future holds the reply line.
    func apply(_ command: LinkControlCommand) -> EventLoopFuture<String> {
        let loop = group.next()
        switch command {
        case .cut:
            let reply = state.apply(.cut, listen: listen.description, to: to.map(\.description).joined(separator: ","))
            let listener = server.withLock { server in
                defer { server = nil }
                return server
            }
            // Reply once the listener is closed, so that connects after the reply fail.
            guard let listener else { return loop.makeSucceededFuture(reply) }
            return listener.close().map { reply }.recover { _ in reply }
        case .heal:
            let reply = state.apply(.heal, listen: listen.description, to: to.map(\.description).joined(separator: ","))
            guard server.withLock({ $0 == nil }) else { return loop.makeSucceededFuture(reply) }
            return Self.bind(host: listen.host, port: listen.port, to: to, state: state, group: group)
                .map { [self] channel in
                    let previous = server.withLock { server in
                        defer { server = channel }
                        return server
                    }
                    previous?.close(promise: nil)
                    return reply
                }
                .recover { error in "error: cannot listen on \(self.listen) again: \(error)" }
        case .set, .status:
            return loop.makeSucceededFuture(state.apply(command, listen: listen.description, to: to.map(\.description).joined(separator: ",")))
        }
    }

    /// Listens on `host:port`; every accepted connection is joined to a new
    /// connection to the first of `targets` that takes it by a pair of
    /// ``DelayForwarder``s on one event loop.
    static func bind(host: String, port: Int, to targets: [HostPort], state: LinkState, group: any EventLoopGroup) -> EventLoopFuture<any Channel> {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                guard state.admit() else { return inbound.close() }
                return LinkController.connect(targets[...], on: inbound.eventLoop)
                    .flatMapErrorThrowing { error in
                        inbound.close(promise: nil)
                        throw error
                    }
                    .flatMapThrowing { outbound in
                        try inbound.pipeline.syncOperations.addHandler(DelayForwarder(state: state, destination: outbound))
                        try outbound.pipeline.syncOperations.addHandler(DelayForwarder(state: state, destination: inbound))
                        state.track(inbound)
                        state.track(outbound)
                        try outbound.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                        // The inbound channel is not active yet: autoRead takes effect when it is.
                        try inbound.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                    }
            }
            .bind(host: host, port: port)
    }

    /// Connects to the first of `targets` that takes the connection.
    private static func connect(_ targets: ArraySlice<HostPort>, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        guard let target = targets.first else {
            return loop.makeFailedFuture(LinkControlError("no target to forward to"))
        }
        return ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: target.host, port: target.port)
            .flatMapError { error in
                targets.count > 1 ? LinkController.connect(targets.dropFirst(), on: loop) : loop.makeFailedFuture(error)
            }
    }
}

/// Reads control lines, applies each, answers each with one line.
final class LinkControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A control line longer than this closes the connection.
    static let maximumLineBytes = 1024

    private let controller: LinkController
    private var pending: [UInt8] = []

    init(controller: LinkController) {
        self.controller = controller
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            let reply: EventLoopFuture<String>
            do {
                reply = controller.apply(try LinkControlCommand.parse(line))
            } catch {
                reply = context.eventLoop.makeSucceededFuture("error: \(error.description)")
            }
            reply.hop(to: context.eventLoop).assumeIsolated().whenSuccess { [self] text in
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\n")), promise: nil)
            }
        }
        if pending.count > Self.maximumLineBytes { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension LinkControlHandler: Sendable {}
