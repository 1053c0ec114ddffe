import NIOCore
import NIOPosix

/// An object that owns one Redis channel at a time on its event loop, with
/// a ``RedisChannelHandler`` in it (``RedisConnection``, the subscriber's
/// connection): what both need to open one, and the callbacks the handler
/// reports to. All of it runs on `eventLoop`.
protocol RedisChannelOwner: AnyObject {
    /// The loop the owner and its channel live on.
    var eventLoop: any EventLoop { get }
    /// Where to connect, timeouts and the reply size limit.
    var configuration: RedisConfiguration { get }
    /// The commands sent before the channel is ready (AUTH, SELECT, ...).
    var handshake: [RedisCommand] { get }
    /// The channel being set up or in use.
    var channel: (any Channel)? { get set }
    /// The handshake of attempt `generation` succeeded on `channel`.
    func ready(_ channel: any Channel, generation: Int)
    /// A reply arrived on attempt `generation`'s channel.
    func received(_ reply: RESPValue, generation: Int)
    /// Attempt `generation` failed or its channel was lost.
    func failed(_ error: RedisError, generation: Int)
}

extension RedisChannelOwner {
    /// Opens a channel to the configured Redis for attempt `generation`: the
    /// handler's outcomes and replies come back tagged with it, so the owner
    /// can ignore those of an attempt it has given up on; a connect failure
    /// comes back as a `.connection` error.
    func openChannel(generation: Int) {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let handshake = self.handshake
        let maximumReplyBytes = configuration.maximumReplyBytes
        let address = "\(configuration.host):\(configuration.port)"
        ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                // Runs on the channel's loop, which is the owner's.
                let owner = bound.value
                owner.channel = channel
                do {
                    let handler = try RedisChannelHandler(
                        handshake: handshake,
                        maximumReplyBytes: maximumReplyBytes,
                        onReady: { [weak owner] in owner?.ready(channel, generation: generation) },
                        onReply: { [weak owner] reply in owner?.received(reply, generation: generation) },
                        onFailure: { [weak owner] error in owner?.failed(error, generation: generation) }
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .assumeIsolated()
            .whenFailure { error in
                let redisError = error as? RedisError ?? RedisError(.connection, message: "connect to \(address): \(error)")
                bound.value.failed(redisError, generation: generation)
            }
    }
}
