import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One Pub/Sub connection and its state; lives on its event loop only.
///
/// It holds a set of channels (classic and sharded) and keeps them
/// subscribed. A **reconnecting** connection (the subscriber's main one)
/// connects again after a failure and subscribes to everything it holds,
/// then calls `events.reconnected`. A **shard** connection (one per cluster
/// master, owned by `ShardedSubscriptions`) does not: when it fails it
/// closes and hands its channels back (`events.lost`), and when its node
/// answers a sharded subscribe with a redirect, or unsubscribes a channel
/// by itself (its slot moved away), it hands that channel back too, for the
/// owner to place on the right node.
final class SubscriberConnection: RedisChannelOwner {
    typealias Completion = RedisSubscriber.Completion

    /// What the connection tells its owner; called on the event loop.
    struct Events {
        /// After a reconnect, every held channel subscribed again (reconnecting connections).
        var reconnected: () -> Void = {}
        /// The connection failed and closed, holding these channels (shard connections).
        var lost: (_ held: Set<PubSubChannel>) -> Void = { _ in }
        /// The node refused a sharded subscribe with `MOVED` or `ASK`; the
        /// channel is no longer held here, its waiters go with it.
        var redirected: (_ channel: PubSubChannel, _ redirect: ClusterRedirect, _ completions: [Completion]) -> Void = { _, _, _ in }
        /// The node unsubscribed a held sharded channel by itself (its slot
        /// moved to another node); it is no longer held here.
        var dropped: (_ channel: PubSubChannel) -> Void = { _ in }
    }

    /// A confirmation Redis owes for a (S)SUBSCRIBE or (S)UNSUBSCRIBE sent.
    private struct Expected {
        var subscribe: Bool
        var channel: PubSubChannel
        var completions: [Completion]
        /// Part of the resubscription after a reconnect.
        var isResubscription: Bool
    }

    private enum State {
        /// Connecting; subscribes wait in `waitingForConnection`.
        case connecting
        case ready(any Channel)
        case waitingToReconnect
        case closed
    }

    let eventLoop: any EventLoop
    /// Where it connects; with cluster seeds, a reconnecting connection's
    /// `host` and `port` move to the next seed after a failed attempt (see `failed`).
    private(set) var configuration: RedisConfiguration
    let handshake: [RedisCommand]
    private let logger: Logger
    private let handler: RedisSubscriber.MessageHandler
    private let reconnects: Bool
    var events = Events()

    /// The channels held: subscribed, or to subscribe on (re)connect.
    private(set) var held: Set<PubSubChannel> = []
    private var state: State = .connecting
    private var generation = 0
    var channel: (any Channel)?
    private var expected = CircularBuffer<Expected>()
    /// Subscribes made while connecting, by channel: settled by the
    /// subscription of every held channel on connect.
    private var waitingForConnection: [PubSubChannel: [Completion]] = [:]
    private var outbound = ByteBuffer()
    private var flushScheduled = false
    private var hasConnected = false
    private var resubscriptionsOutstanding = 0
    private var backoff: Backoff

    /// A connection to `configuration`'s `host:port`; `reconnects` false
    /// makes it a shard connection (see the type's documentation).
    init(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        reconnects: Bool,
        handler: @escaping RedisSubscriber.MessageHandler
    ) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.handshake = RedisChannelHandler.handshake(for: configuration, selectDatabase: false)
        self.logger = logger
        self.reconnects = reconnects
        self.handler = handler
        self.backoff = Backoff(minimum: configuration.minimumReconnectDelay, maximum: configuration.maximumReconnectDelay)
    }

    func start() {
        guard case .connecting = self.state, self.generation == 0 else { return }
        self.connect()
    }

    /// Whether it has closed (a shard connection after a failure, or `close()`).
    var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    // MARK: Requests

    func submit(subscribe: Bool, _ channel: PubSubChannel, _ completion: @escaping Completion) {
        if case .closed = self.state {
            completion(.failure(.closedError))
            return
        }
        if subscribe { self.held.insert(channel) } else { self.held.remove(channel) }
        switch self.state {
        case .closed:
            completion(.failure(.closedError))
        case .waitingToReconnect:
            // Nothing is subscribed now: an unsubscribe is done; a subscribe
            // fails, its channel held for the reconnect.
            completion(subscribe ? .failure(RedisError(.connection, message: "Pub/Sub not connected; reconnecting")) : .success(()))
        case .connecting:
            // The connect subscribes to every channel held then.
            if subscribe {
                self.waitingForConnection[channel, default: []].append(completion)
            } else {
                completion(.success(()))
            }
        case .ready:
            let name = subscribe ? channel.subscribeCommand : channel.unsubscribeCommand
            self.send(RedisCommand(name, arguments: [.string(channel.name)]))
            self.expected.append(Expected(subscribe: subscribe, channel: channel, completions: [completion], isResubscription: false))
        }
    }

    private func send(_ command: RedisCommand) {
        do {
            try command.encode(into: &self.outbound)
        } catch {
            return  // only when hiredis cannot allocate; the confirmation never comes and the next failure settles it
        }
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        self.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            guard case .ready(let channel) = self.state, self.outbound.readableBytes > 0 else { return }
            let buffer = self.outbound
            self.outbound = channel.allocator.buffer(capacity: 0)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    // MARK: Replies

    func received(_ reply: RESPValue, generation: Int) {
        guard generation == self.generation, case .ready = self.state else { return }
        switch reply {
        case .array(let elements) where elements.count == 3:
            switch elements[0].string {
            case "message", "smessage":
                if let channel = elements[1].string, case .bulk(let payload) = elements[2] {
                    self.handler(channel, payload)
                }
            case "subscribe", "unsubscribe":
                self.confirmed(subscribe: elements[0].string == "subscribe", channel: .classic(elements[1].string ?? ""))
            case "ssubscribe":
                self.confirmed(subscribe: true, channel: .sharded(elements[1].string ?? ""))
            case "sunsubscribe":
                let channel = PubSubChannel.sharded(elements[1].string ?? "")
                if let first = self.expected.first, !first.subscribe, first.channel == channel {
                    self.confirmed(subscribe: false, channel: channel)
                } else if self.held.remove(channel) != nil {
                    // Not asked for: the node gave the channel's slot away.
                    self.logger.debug("Pub/Sub shard channel moved", metadata: ["channel": "\(channel.name)"])
                    self.events.dropped(channel)
                }
            default:
                self.logger.debug("unexpected Pub/Sub reply", metadata: ["reply": "\(elements[0])"])
            }
        case .error(let text):
            // A refused subscribe (a redirect, an ACL): settle the oldest request with it.
            guard let expected = self.expected.popFirst() else { return }
            let error = RedisError(serverReply: text)
            let host = self.configuration.host
            if expected.subscribe, expected.channel.isSharded, let redirect = ClusterRedirect(error, queriedHost: host) {
                self.held.remove(expected.channel)
                self.events.redirected(expected.channel, redirect, expected.completions)
                return
            }
            for completion in expected.completions { completion(.failure(error)) }
        default:
            self.logger.debug("unexpected Pub/Sub reply", metadata: ["reply": "\(reply)"])
        }
    }

    private func confirmed(subscribe: Bool, channel: PubSubChannel) {
        guard let expected = self.expected.popFirst() else { return }
        if expected.subscribe != subscribe || expected.channel != channel {
            self.logger.warning("Pub/Sub confirmation out of step", metadata: ["channel": "\(channel)", "expected": "\(expected.channel)"])
        }
        for completion in expected.completions { completion(.success(())) }
        if expected.isResubscription {
            self.resubscriptionsOutstanding -= 1
            if self.resubscriptionsOutstanding == 0 {
                self.logger.info("Pub/Sub resubscribed after reconnect")
                self.events.reconnected()
            }
        }
    }

    // MARK: Connecting

    private func connect() {
        self.state = .connecting
        self.generation &+= 1
        self.channel = nil
        openChannel(generation: self.generation)
    }

    /// Connected: subscribe to everything held (the classic channels in one
    /// command, each sharded one in its own, as a cluster refuses sharded
    /// channels of several slots in one). That covers the subscribes made
    /// while connecting: a subscribe whose channel is still held waits for
    /// that channel's confirmation; one unsubscribed again since is settled now.
    func ready(_ channel: any Channel, generation: Int) {
        guard generation == self.generation, case .connecting = self.state else {
            channel.close(promise: nil)
            return
        }
        self.state = .ready(channel)
        self.backoff.reset()
        self.logger.debug("Pub/Sub connected", metadata: ["redis.address": "\(self.configuration.host):\(self.configuration.port)"])
        let isReconnect = self.hasConnected
        self.hasConnected = true
        let classic = self.held.filter { !$0.isSharded }.sorted { $0.name < $1.name }
        let sharded = self.held.filter(\.isSharded).sorted { $0.name < $1.name }
        var waiting = self.waitingForConnection
        self.waitingForConnection = [:]
        if !classic.isEmpty {
            self.send(RedisCommand("SUBSCRIBE", arguments: classic.map { .string($0.name) }))
        }
        for channel in sharded {
            self.send(RedisCommand("SSUBSCRIBE", arguments: [.string(channel.name)]))
        }
        for channel in classic + sharded {
            self.expected.append(Expected(
                subscribe: true, channel: channel,
                completions: waiting.removeValue(forKey: channel) ?? [],
                isResubscription: isReconnect))
        }
        for completions in waiting.values {
            for completion in completions { completion(.success(())) }
        }
        if isReconnect {
            self.resubscriptionsOutstanding = classic.count + sharded.count
            if self.resubscriptionsOutstanding == 0 { self.events.reconnected() }
        }
    }

    func failed(_ error: RedisError, generation: Int) {
        guard generation == self.generation else { return }
        switch self.state {
        case .closed, .waitingToReconnect:
            return
        case .ready(let channel):
            self.logger.warning("Pub/Sub connection lost", metadata: [
                "redis.address": "\(self.configuration.host):\(self.configuration.port)", "error": "\(error)",
            ])
            self.outbound.clear()
            let lost = self.expected
            self.expected.removeAll()
            self.resubscriptionsOutstanding = 0
            channel.close(promise: nil)
            let failure = RedisError(error.kind, message: "Pub/Sub connection lost: \(error.message)")
            if self.reconnects {
                // Reconnect at once; the new generation ignores the old channel's close.
                self.connect()
            } else {
                self.giveUp()
            }
            for expected in lost {
                // An unsubscribe is done once the connection is gone.
                for completion in expected.completions { completion(expected.subscribe ? .failure(failure) : .success(())) }
            }
        case .connecting:
            let channel = self.channel
            self.channel = nil
            channel?.close(promise: nil)
            let waiting = self.waitingForConnection
            self.waitingForConnection = [:]
            if self.reconnects {
                self.scheduleReconnect(after: error)
            } else {
                self.logger.warning("cannot connect to a Redis Cluster node for sharded Pub/Sub", metadata: [
                    "redis.address": "\(self.configuration.host):\(self.configuration.port)", "error": "\(error)",
                ])
                self.giveUp()
            }
            for completions in waiting.values {
                for completion in completions { completion(.failure(error)) }
            }
        }
    }

    /// A failed reconnecting connection: wait, then try again (on a cluster,
    /// the next seed: a cluster broadcasts every classic `PUBLISH` to all
    /// its nodes, so any node will do while this one is away).
    private func scheduleReconnect(after error: RedisError) {
        let delay = self.backoff.next()
        self.state = .waitingToReconnect
        self.logger.warning("cannot connect to Redis for Pub/Sub", metadata: [
            "redis.address": "\(self.configuration.host):\(self.configuration.port)",
            "error": "\(error)",
            "retry.ms": "\(delay.nanoseconds / 1_000_000)",
        ])
        let seeds = self.configuration.clusterSeeds
        if seeds.count > 1 {
            let current = seeds.firstIndex { $0.host == self.configuration.host && $0.port == self.configuration.port } ?? -1
            let next = seeds[(current + 1) % seeds.count]
            self.configuration.host = next.host
            self.configuration.port = next.port
        }
        let generation = self.generation
        self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard generation == self.generation, case .waitingToReconnect = self.state else { return }
            self.connect()
        }
    }

    /// A failed shard connection: closes and hands its channels to the owner.
    private func giveUp() {
        self.state = .closed
        self.generation &+= 1
        self.channel = nil
        let held = self.held
        self.held = []
        self.events.lost(held)
    }

    // MARK: Closing

    /// Settles everything with `.closed` and lets the connection go.
    func close() {
        if case .closed = self.state { return }
        self.state = .closed
        self.generation &+= 1
        self.channel?.close(promise: nil)
        self.channel = nil
        let lost = self.expected
        self.expected.removeAll()
        let waiting = self.waitingForConnection
        self.waitingForConnection = [:]
        for expected in lost {
            for completion in expected.completions { completion(.failure(.closedError)) }
        }
        for completions in waiting.values {
            for completion in completions { completion(.failure(.closedError)) }
        }
    }
}

@available(*, unavailable)
extension SubscriberConnection: Sendable {}
