import Logging
import NIOCore

/// The sharded channels of a subscriber on a Redis Cluster; lives on the
/// subscriber's event loop.
///
/// A sharded channel must be subscribed on the master serving its slot
/// (another node answers `MOVED`). This keeps one shard connection per
/// master it uses and places each channel on the master the cluster
/// client's map names:
///
/// - a subscribe answered `MOVED`/`ASK` goes on to the named node (and the
///   map learns the move);
/// - a channel the node unsubscribes by itself (its slot was resharded
///   away) is placed again after a map refresh;
/// - when a master's connection fails (the master died and the cluster is
///   promoting its replica), its channels wait a growing delay, the map is
///   read again, and they are placed where it then says.
///
/// Each placement after a loss calls `onReplaced` once its channels are
/// subscribed again: messages published meanwhile were lost (Pub/Sub is
/// at-most-once), so the owner re-reads what it might have missed.
final class ShardedSubscriptions {
    let eventLoop: any EventLoop
    private let routing: ClusterRouting
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let handler: RedisSubscriber.MessageHandler
    private let onReplaced: () -> Void

    private var connections: [RedisNodeAddress: SubscriberConnection] = [:]
    /// Every channel held, and the node it is placed on (nil: waiting to be placed again).
    private var placed: [PubSubChannel: RedisNodeAddress?] = [:]
    private var backoff: Backoff
    private var replaceScheduled = false
    private var closed = false

    init(
        routing: ClusterRouting,
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        handler: @escaping RedisSubscriber.MessageHandler,
        onReplaced: @escaping () -> Void
    ) {
        self.routing = routing
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.handler = handler
        self.onReplaced = onReplaced
        self.backoff = Backoff(minimum: configuration.minimumReconnectDelay, maximum: configuration.maximumReconnectDelay)
    }

    func submit(subscribe: Bool, _ channel: PubSubChannel, _ completion: @escaping RedisSubscriber.Completion) {
        guard !self.closed else {
            completion(.failure(.closedError))
            return
        }
        if subscribe {
            if let node = self.placed[channel] ?? nil {
                // Already placed: subscribing again is harmless and settles the waiter in order.
                self.connection(node).submit(subscribe: true, channel, completion)
            } else {
                self.place(channel, on: self.routing.node(for: channel.slot), completion)
            }
            return
        }
        guard let entry = self.placed.removeValue(forKey: channel), let node = entry, let connection = self.connections[node] else {
            completion(.success(()))  // not subscribed anywhere now
            return
        }
        connection.submit(subscribe: false, channel, completion)
    }

    /// Subscribes `channel` on `node` (nil: no node known; it waits for the next placement).
    private func place(_ channel: PubSubChannel, on node: RedisNodeAddress?, _ completion: @escaping RedisSubscriber.Completion) {
        guard let node else {
            self.placed[channel] = .some(nil)
            self.scheduleReplace()
            completion(.failure(RedisError(.clusterUnavailable, message: "no node of the Redis Cluster is known for \(channel.name)")))
            return
        }
        self.placed[channel] = node
        self.connection(node).submit(subscribe: true, channel, completion)
    }

    private func connection(_ node: RedisNodeAddress) -> SubscriberConnection {
        if let existing = self.connections[node], !existing.isClosed { return existing }
        var configuration = self.configuration
        configuration.host = node.host
        configuration.port = node.port
        configuration.clusterSeeds = []
        let connection = SubscriberConnection(
            configuration: configuration, eventLoop: self.eventLoop,
            logger: self.logger, reconnects: false, handler: self.handler)
        connection.events.lost = { [unowned self] held in self.lost(node, held) }
        connection.events.redirected = { [unowned self] channel, redirect, completions in
            self.redirected(channel, redirect, completions)
        }
        connection.events.dropped = { [unowned self] channel in self.dropped(channel) }
        self.connections[node] = connection
        connection.start()
        return connection
    }

    // MARK: Moves and losses

    private func redirected(_ channel: PubSubChannel, _ redirect: ClusterRedirect, _ completions: [RedisSubscriber.Completion]) {
        guard !self.closed, self.placed[channel] != nil else {
            for completion in completions { completion(.success(())) }  // unsubscribed meanwhile
            return
        }
        if redirect.kind == .moved { self.routing.moved(redirect.slot, to: redirect.target) }
        self.logger.debug("Pub/Sub shard channel redirected", metadata: ["channel": "\(channel.name)", "node": "\(redirect.target)"])
        self.placed[channel] = redirect.target
        let connection = self.connection(redirect.target)
        for completion in completions { connection.submit(subscribe: true, channel, completion) }
        if completions.isEmpty { connection.submit(subscribe: true, channel) { _ in } }
    }

    private func dropped(_ channel: PubSubChannel) {
        guard !self.closed, self.placed[channel] != nil else { return }
        self.placed[channel] = .some(nil)
        self.routing.refresh()
        self.scheduleReplace()
    }

    private func lost(_ node: RedisNodeAddress, _ held: Set<PubSubChannel>) {
        if self.connections[node]?.isClosed ?? false { self.connections[node] = nil }
        guard !self.closed else { return }
        for channel in held where self.placed[channel] == node {
            self.placed[channel] = .some(nil)
        }
        self.routing.refresh()
        self.scheduleReplace()
    }

    /// Places the channels waiting for a node after a growing delay (the
    /// map's refresh runs meanwhile), then calls `onReplaced` once they are
    /// all subscribed; failures come back through `lost` and try again.
    private func scheduleReplace() {
        guard !self.replaceScheduled, !self.closed else { return }
        self.replaceScheduled = true
        self.eventLoop.assumeIsolated().scheduleTask(in: self.backoff.next()) {
            self.replaceScheduled = false
            self.replace()
        }
    }

    private func replace() {
        guard !self.closed else { return }
        let waiting = self.placed.filter { $0.value == nil }.map(\.key)
        guard !waiting.isEmpty else { return }
        let tally = NIOLoopBoundBox(Tally(outstanding: waiting.count), eventLoop: self.eventLoop)
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        for channel in waiting {
            self.place(channel, on: self.routing.node(for: channel.slot)) { result in
                if case .failure = result { tally.value.failed = true }
                tally.value.outstanding -= 1
                guard tally.value.outstanding == 0, !tally.value.failed else { return }  // a failure tries again through `lost`
                bound.value.replaced(count: waiting.count)
            }
        }
    }

    /// The outcome of one placement so far.
    private struct Tally {
        var outstanding: Int
        var failed = false
    }

    private func replaced(count: Int) {
        guard !self.closed else { return }
        self.backoff.reset()
        self.logger.info("Pub/Sub shard channels placed again", metadata: ["channels": "\(count)"])
        self.onReplaced()
    }

    // MARK: Closing

    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.placed = [:]
        let connections = self.connections.values
        self.connections = [:]
        for connection in connections { connection.close() }
    }
}

@available(*, unavailable)
extension ShardedSubscriptions: Sendable {}
