import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Redis Pub/Sub, classic and sharded (``PubSubChannel``), spoken on one
/// event loop.
///
/// `subscribe` and `unsubscribe` may be called from any thread or task; they
/// hop to the subscriber's event loop, which writes the commands (once per
/// tick) and matches Redis's confirmations in order.
///
/// Messages go to the handler given at `init`, called **on the subscriber's
/// event loop**, one at a time, in the order each connection delivered
/// them. It must return quickly and never block: hand heavy work elsewhere.
///
/// On one Redis, every channel is on one connection. When it breaks, the
/// subscriber reconnects (at once, then with a growing delay up to
/// `maximumReconnectDelay`), subscribes again to every channel it holds,
/// and once Redis has confirmed them calls `onReconnect` (on the event
/// loop). Messages published while it was away are lost, as Pub/Sub is
/// at-most-once: `onReconnect` is where callers re-read the state they
/// might have missed.
///
/// On a Redis Cluster (`cluster` given), classic channels are on one
/// connection to any node (the cluster broadcasts every `PUBLISH`), and
/// each sharded channel on a connection to the master of its slot
/// (`ShardedSubscriptions`): after a failover or a resharding moves a slot,
/// its channels are placed again and `onReconnect` is called the same way.
public final class RedisSubscriber: Sendable {
    /// Receives a message: its channel and payload.
    public typealias MessageHandler = @Sendable (_ channel: String, _ payload: ByteBuffer) -> Void

    typealias Completion = @Sendable (Result<Void, RedisError>) -> Void

    /// The channels held (subscribed, or to subscribe on (re)connect), and
    /// whether the subscriber is closed; shared by callers and the loop.
    struct Shared: Sendable {
        var channels: Set<PubSubChannel> = []
        var closed = false
    }

    private let shared: NIOLockedValueBox<Shared>
    /// Filled on the event loop by the first task that runs there.
    private let connections: NIOLoopBoundBox<SubscriberLoop?>
    private let make: @Sendable () -> SubscriberLoop

    /// Starts the subscriber, which connects right away.
    ///
    /// - Parameters:
    ///   - configuration: where to connect; `connectionCount` and `database`
    ///     do not apply. With `clusterSeeds`, classic channels are
    ///     subscribed on one node of the cluster, `host:port` first, moving
    ///     to the next seed after a failed connect attempt.
    ///   - cluster: the slot map of the region's cluster client
    ///     (``RedisClient/clusterRouting``), which places sharded channels;
    ///     nil on one Redis (sharded channels then share the one connection).
    ///   - eventLoop: the loop it runs on (nil: the next loop of
    ///     `MultiThreadedEventLoopGroup.singleton`).
    ///   - onReconnect: called on the event loop after a reconnect (or a
    ///     placement after a cluster change), once the channels are
    ///     subscribed again.
    ///   - handler: called on the event loop for every message.
    public init(
        configuration: RedisConfiguration,
        cluster: ClusterRouting? = nil,
        eventLoop: (any EventLoop)? = nil,
        logger: Logger = Logger(label: "RelayStore.RedisSubscriber"),
        onReconnect: (@Sendable () -> Void)? = nil,
        handler: @escaping MessageHandler
    ) {
        let eventLoop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        self.shared = NIOLockedValueBox(Shared())
        self.connections = .makeEmptyBox(valueType: SubscriberLoop.self, eventLoop: eventLoop)
        self.make = { @Sendable in
            SubscriberLoop(
                configuration: configuration, cluster: cluster, eventLoop: eventLoop, logger: logger,
                handler: handler, onReconnect: onReconnect ?? {})
        }
        let (box, make) = (self.connections, self.make)
        eventLoop.execute { _ = Self.connections(box, make) }
    }

    /// The connections, made (and started) on first use. Call on their loop.
    private static func connections(
        _ box: NIOLoopBoundBox<SubscriberLoop?>, _ make: @Sendable () -> SubscriberLoop
    ) -> SubscriberLoop {
        if let connections = box.value { return connections }
        let connections = make()
        box.value = connections
        connections.start()
        return connections
    }

    deinit {
        // Without `close()`: close the connections on their loop, without waiting.
        self.shared.withLockedValue { $0.closed = true }
        let box = self.connections
        box.eventLoop.execute { box.value?.close() }
    }

    /// The channels currently held (subscribed, or to be subscribed on reconnect).
    public var subscriptions: Set<PubSubChannel> {
        self.shared.withLockedValue { $0.channels }
    }

    /// The names of the classic channels currently held.
    public var channels: Set<String> {
        Set(self.subscriptions.filter { !$0.isSharded }.map(\.name))
    }

    private func submit(subscribe: Bool, _ channel: PubSubChannel, _ completion: @escaping Completion) {
        let accepted = self.shared.withLockedValue { shared -> Bool in
            guard !shared.closed else { return false }
            if subscribe { shared.channels.insert(channel) } else { shared.channels.remove(channel) }
            return true
        }
        guard accepted else {
            completion(.failure(.closedError))
            return
        }
        let (box, make) = (self.connections, self.make)
        if box.eventLoop.inEventLoop {
            Self.connections(box, make).submit(subscribe: subscribe, channel, completion)
        } else {
            box.eventLoop.execute { Self.connections(box, make).submit(subscribe: subscribe, channel, completion) }
        }
    }

    /// Subscribes to `channel`; returns once Redis has confirmed it.
    ///
    /// Throws `.connection` when the connection fails first (the channel
    /// stays held and is subscribed on reconnect, followed by
    /// `onReconnect`), `.closed` after `close()`.
    public func subscribe(_ channel: PubSubChannel) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(subscribe: true, channel) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// Unsubscribes from `channel`; returns once Redis has confirmed it (or
    /// at once when there is no connection: nothing is subscribed then).
    /// No message of `channel` reaches the handler after it returns.
    public func unsubscribe(_ channel: PubSubChannel) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(subscribe: false, channel) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// `subscribe(_:)`, completed on `eventLoop`.
    public func subscribe(_ channel: PubSubChannel, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        self.submit(subscribe: true, channel) { promise.completeWith($0.mapError { $0 as any Error }) }
        return promise.futureResult
    }

    /// `unsubscribe(_:)`, completed on `eventLoop`.
    public func unsubscribe(_ channel: PubSubChannel, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        self.submit(subscribe: false, channel) { promise.completeWith($0.mapError { $0 as any Error }) }
        return promise.futureResult
    }

    /// Subscribes to the classic channel `channel` (see `subscribe(_:)`).
    public func subscribe(channel: String) async throws { try await self.subscribe(.classic(channel)) }

    /// Unsubscribes from the classic channel `channel` (see `unsubscribe(_:)`).
    public func unsubscribe(channel: String) async throws { try await self.unsubscribe(.classic(channel)) }

    /// Stops the subscriber: pending requests fail with `.closed` and the
    /// connections close. Returns once that is done on the event loop (at
    /// once when called on an event loop other than the subscriber's, which
    /// closes right after); when it waited, or ran on the subscriber's own
    /// loop, no handler call happens after it returns. Calling it again does
    /// nothing.
    public func close() {
        let first = self.shared.withLockedValue { shared in
            defer { shared.closed = true }
            return !shared.closed
        }
        guard first else { return }
        let (box, make) = (self.connections, self.make)
        if box.eventLoop.inEventLoop {
            Self.connections(box, make).close()
            return
        }
        let done = box.eventLoop.submit { Self.connections(box, make).close() }
        if MultiThreadedEventLoopGroup.currentEventLoop == nil { try? done.wait() }
    }
}

/// A subscriber's connections on its event loop: the main one (classic
/// channels, and sharded ones on one Redis) and, on a cluster, the shard
/// connections.
final class SubscriberLoop {
    private let main: SubscriberConnection
    private let shards: ShardedSubscriptions?

    init(
        configuration: RedisConfiguration, cluster: ClusterRouting?, eventLoop: any EventLoop, logger: Logger,
        handler: @escaping RedisSubscriber.MessageHandler, onReconnect: @escaping @Sendable () -> Void
    ) {
        self.main = SubscriberConnection(
            configuration: configuration, eventLoop: eventLoop, logger: logger, reconnects: true, handler: handler)
        self.main.events.reconnected = onReconnect
        self.shards = cluster.map {
            ShardedSubscriptions(
                routing: $0, configuration: configuration, eventLoop: eventLoop, logger: logger,
                handler: handler, onReplaced: onReconnect)
        }
    }

    func start() { self.main.start() }

    func submit(subscribe: Bool, _ channel: PubSubChannel, _ completion: @escaping RedisSubscriber.Completion) {
        if channel.isSharded, let shards = self.shards {
            shards.submit(subscribe: subscribe, channel, completion)
        } else {
            self.main.submit(subscribe: subscribe, channel, completion)
        }
    }

    func close() {
        self.main.close()
        self.shards?.close()
    }
}

@available(*, unavailable)
extension SubscriberLoop: Sendable {}
