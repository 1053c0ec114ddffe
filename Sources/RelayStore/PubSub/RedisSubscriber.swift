import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Redis Pub/Sub on one connection, spoken on one event loop.
///
/// `subscribe` and `unsubscribe` may be called from any thread or task; they
/// hop to the subscriber's event loop, which writes the commands (once per
/// tick) and matches Redis's confirmations in order.
///
/// Messages go to the handler given at `init`, called **on the subscriber's
/// event loop**, one at a time, in the order Redis delivered them. It must
/// return quickly and never block: hand heavy work elsewhere.
///
/// When the connection breaks, the subscriber reconnects (at once, then
/// with a growing delay up to `maximumReconnectDelay`), subscribes again to
/// every channel it holds, and once Redis has confirmed them calls
/// `onReconnect` (on the event loop). Messages published while it was away
/// are lost, as Pub/Sub is at-most-once: `onReconnect` is where callers
/// re-read the state they might have missed.
public final class RedisSubscriber: Sendable {
    /// Receives a message: its channel and payload.
    public typealias MessageHandler = @Sendable (_ channel: String, _ payload: ByteBuffer) -> Void

    typealias Completion = @Sendable (Result<Void, RedisError>) -> Void

    /// The channels held (subscribed, or to subscribe on (re)connect), and
    /// whether the subscriber is closed; shared by callers and the loop.
    struct Shared: Sendable {
        var channels: Set<String> = []
        var closed = false
    }

    private let shared: NIOLockedValueBox<Shared>
    /// Filled on the event loop by the first task that runs there.
    private let connection: NIOLoopBoundBox<SubscriberConnection?>
    private let make: @Sendable () -> SubscriberConnection

    /// Starts the subscriber, which connects right away.
    ///
    /// - Parameters:
    ///   - configuration: where to connect; `connectionCount` and `database`
    ///     do not apply. With `clusterSeeds`, it subscribes on one node of
    ///     the cluster (which broadcasts every `PUBLISH` to all its nodes),
    ///     `host:port` first, and moves to the next seed after a failed
    ///     connect attempt.
    ///   - eventLoop: the loop it runs on (nil: the next loop of
    ///     `MultiThreadedEventLoopGroup.singleton`).
    ///   - onReconnect: called on the event loop after a reconnect, once
    ///     every held channel is subscribed again.
    ///   - handler: called on the event loop for every message.
    public init(
        configuration: RedisConfiguration,
        eventLoop: (any EventLoop)? = nil,
        logger: Logger = Logger(label: "RelayStore.RedisSubscriber"),
        onReconnect: (@Sendable () -> Void)? = nil,
        handler: @escaping MessageHandler
    ) {
        let eventLoop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        let shared = NIOLockedValueBox(Shared())
        self.shared = shared
        self.connection = .makeEmptyBox(valueType: SubscriberConnection.self, eventLoop: eventLoop)
        self.make = { @Sendable in
            SubscriberConnection(
                configuration: configuration, eventLoop: eventLoop, logger: logger,
                shared: shared, handler: handler, onReconnect: onReconnect)
        }
        let box = self.connection
        let make = self.make
        eventLoop.execute { _ = Self.connection(box, make) }
    }

    /// The connection, made (and started) on first use. Call on its loop.
    private static func connection(
        _ box: NIOLoopBoundBox<SubscriberConnection?>, _ make: @Sendable () -> SubscriberConnection
    ) -> SubscriberConnection {
        if let connection = box.value { return connection }
        let connection = make()
        box.value = connection
        connection.start()
        return connection
    }

    deinit {
        // Without `close()`: close the connection on its loop, without waiting.
        self.shared.withLockedValue { $0.closed = true }
        let box = self.connection
        box.eventLoop.execute { box.value?.close() }
    }

    /// The channels currently held (subscribed, or to be subscribed on reconnect).
    public var channels: Set<String> {
        self.shared.withLockedValue { $0.channels }
    }

    private func submit(subscribe: Bool, _ channel: String, _ completion: @escaping Completion) {
        let accepted = self.shared.withLockedValue { shared -> Bool in
            guard !shared.closed else { return false }
            if subscribe { shared.channels.insert(channel) } else { shared.channels.remove(channel) }
            return true
        }
        guard accepted else {
            completion(.failure(.closedError))
            return
        }
        let (box, make) = (self.connection, self.make)
        if box.eventLoop.inEventLoop {
            Self.connection(box, make).submit(subscribe: subscribe, channel, completion)
        } else {
            box.eventLoop.execute { Self.connection(box, make).submit(subscribe: subscribe, channel, completion) }
        }
    }

    /// Subscribes to `channel`; returns once Redis has confirmed it.
    ///
    /// Throws `.connection` when the connection fails first (the channel
    /// stays held and is subscribed on reconnect, followed by
    /// `onReconnect`), `.closed` after `close()`.
    public func subscribe(channel: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(subscribe: true, channel) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// Unsubscribes from `channel`; returns once Redis has confirmed it (or
    /// at once when there is no connection: nothing is subscribed then).
    /// No message of `channel` reaches the handler after it returns.
    public func unsubscribe(channel: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(subscribe: false, channel) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// `subscribe(channel:)`, completed on `eventLoop`.
    public func subscribe(channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        self.submit(subscribe: true, channel) { promise.completeWith($0.mapError { $0 as any Error }) }
        return promise.futureResult
    }

    /// `unsubscribe(channel:)`, completed on `eventLoop`.
    public func unsubscribe(channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        self.submit(subscribe: false, channel) { promise.completeWith($0.mapError { $0 as any Error }) }
        return promise.futureResult
    }

    /// Stops the subscriber: pending requests fail with `.closed` and the
    /// connection closes. Returns once that is done on the event loop (at
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
        let (box, make) = (self.connection, self.make)
        if box.eventLoop.inEventLoop {
            Self.connection(box, make).close()
            return
        }
        let done = box.eventLoop.submit { Self.connection(box, make).close() }
        if MultiThreadedEventLoopGroup.currentEventLoop == nil { try? done.wait() }
    }
}

/// The subscriber's connection and its state; lives on its event loop only.
final class SubscriberConnection: RedisChannelOwner {
    /// A confirmation Redis owes for a SUBSCRIBE or UNSUBSCRIBE sent.
    private struct Expected {
        var subscribe: Bool
        var channel: String
        var completions: [RedisSubscriber.Completion]
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
    /// Where it connects; with cluster seeds, `host` and `port` move to the
    /// next seed after a failed attempt (see `failed`).
    private(set) var configuration: RedisConfiguration
    let handshake: [RedisCommand]
    private var logger: Logger
    private let shared: NIOLockedValueBox<RedisSubscriber.Shared>
    private let handler: RedisSubscriber.MessageHandler
    private let onReconnect: (@Sendable () -> Void)?

    private var state: State = .connecting
    private var generation = 0
    var channel: (any Channel)?
    private var expected = CircularBuffer<Expected>()
    /// Subscribes made while connecting, by channel: settled by the
    /// subscription of every held channel on connect.
    private var waitingForConnection: [String: [RedisSubscriber.Completion]] = [:]
    private var outbound = ByteBuffer()
    private var flushScheduled = false
    private var hasConnected = false
    private var resubscriptionsOutstanding = 0
    private var backoff: Backoff

    init(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        shared: NIOLockedValueBox<RedisSubscriber.Shared>,
        handler: @escaping RedisSubscriber.MessageHandler,
        onReconnect: (@Sendable () -> Void)?
    ) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.handshake = RedisChannelHandler.handshake(for: configuration, selectDatabase: false)
        self.logger = logger
        self.shared = shared
        self.handler = handler
        self.onReconnect = onReconnect
        self.backoff = Backoff(minimum: configuration.minimumReconnectDelay, maximum: configuration.maximumReconnectDelay)
    }

    func start() {
        guard case .connecting = self.state, self.generation == 0 else { return }
        self.connect()
    }

    // MARK: Requests

    func submit(subscribe: Bool, _ channel: String, _ completion: @escaping RedisSubscriber.Completion) {
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
            self.send(RedisCommand(subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", arguments: [.string(channel)]))
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
            case "message":
                if let channel = elements[1].string, case .bulk(let payload) = elements[2] {
                    self.handler(channel, payload)
                }
            case "subscribe", "unsubscribe":
                self.confirmed(subscribe: elements[0].string == "subscribe", channel: elements[1].string ?? "")
            default:
                self.logger.debug("unexpected Pub/Sub reply", metadata: ["reply": "\(elements[0])"])
            }
        case .error(let text):
            // A refused SUBSCRIBE (e.g. ACL): settle the oldest request with it.
            if let expected = self.expected.popFirst() {
                for completion in expected.completions { completion(.failure(RedisError(serverReply: text))) }
            }
        default:
            self.logger.debug("unexpected Pub/Sub reply", metadata: ["reply": "\(reply)"])
        }
    }

    private func confirmed(subscribe: Bool, channel: String) {
        guard let expected = self.expected.popFirst() else { return }
        if expected.subscribe != subscribe || expected.channel != channel {
            self.logger.warning("Pub/Sub confirmation out of step", metadata: ["channel": "\(channel)", "expected": "\(expected.channel)"])
        }
        for completion in expected.completions { completion(.success(())) }
        if expected.isResubscription {
            self.resubscriptionsOutstanding -= 1
            if self.resubscriptionsOutstanding == 0 {
                self.logger.info("Pub/Sub resubscribed after reconnect")
                self.onReconnect?()
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

    /// Connected: subscribe to everything held, in one command. That covers
    /// the subscribes made while connecting: a subscribe whose channel is
    /// still held waits for that channel's confirmation; one unsubscribed
    /// again since is settled now.
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
        let channels = self.shared.withLockedValue { $0.channels }.sorted()
        var waiting = self.waitingForConnection
        self.waitingForConnection = [:]
        if !channels.isEmpty {
            self.send(RedisCommand("SUBSCRIBE", arguments: channels.map { .string($0) }))
            for channel in channels {
                self.expected.append(Expected(
                    subscribe: true, channel: channel,
                    completions: waiting.removeValue(forKey: channel) ?? [],
                    isResubscription: isReconnect))
            }
        }
        for completions in waiting.values {
            for completion in completions { completion(.success(())) }
        }
        if isReconnect {
            self.resubscriptionsOutstanding = channels.count
            if channels.isEmpty { self.onReconnect?() }
        }
    }

    func failed(_ error: RedisError, generation: Int) {
        guard generation == self.generation else { return }
        switch self.state {
        case .closed, .waitingToReconnect:
            return
        case .ready(let channel):
            self.logger.warning("Pub/Sub connection lost", metadata: ["error": "\(error)"])
            self.outbound.clear()
            let lost = self.expected
            self.expected.removeAll()
            self.resubscriptionsOutstanding = 0
            // Reconnect at once; the new generation ignores the old channel's close.
            self.connect()
            channel.close(promise: nil)
            let failure = RedisError(error.kind, message: "Pub/Sub connection lost: \(error.message)")
            for expected in lost {
                // An unsubscribe is done once the connection is gone.
                for completion in expected.completions { completion(expected.subscribe ? .failure(failure) : .success(())) }
            }
        case .connecting:
            let channel = self.channel
            self.channel = nil
            let delay = self.backoff.next()
            self.state = .waitingToReconnect
            channel?.close(promise: nil)
            self.logger.warning("cannot connect to Redis for Pub/Sub", metadata: [
                "redis.address": "\(self.configuration.host):\(self.configuration.port)",
                "error": "\(error)",
                "retry.ms": "\(delay.nanoseconds / 1_000_000)",
            ])
            // A cluster broadcasts every PUBLISH to all its nodes: any
            // other node will do while this one is away.
            let seeds = self.configuration.clusterSeeds
            if seeds.count > 1 {
                let current = seeds.firstIndex { $0.host == self.configuration.host && $0.port == self.configuration.port } ?? -1
                let next = seeds[(current + 1) % seeds.count]
                self.configuration.host = next.host
                self.configuration.port = next.port
            }
            let waiting = self.waitingForConnection
            self.waitingForConnection = [:]
            for completions in waiting.values {
                for completion in completions { completion(.failure(error)) }
            }
            self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                guard generation == self.generation, case .waitingToReconnect = self.state else { return }
                self.connect()
            }
        }
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
