import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Redis Pub/Sub on a dedicated thread and connection.
///
/// `subscribe` and `unsubscribe` may be called from any thread or task; they
/// queue the request and wake the subscriber thread, which runs a `poll()`
/// loop over the Redis socket (non-blocking) and a wakeup pipe.
///
/// Messages go to the handler given at `init`, called **on the subscriber
/// thread**, one at a time, in the order Redis delivered them. It must
/// return quickly and never block: hand work to an event loop or a task.
///
/// When the connection breaks, the subscriber reconnects with a growing
/// delay (up to `maximumReconnectDelay`), subscribes again to every channel
/// it holds, and once Redis has confirmed them calls `onReconnect` (on the
/// subscriber thread). Messages published while it was away are lost, as
/// Pub/Sub is at-most-once: `onReconnect` is where callers re-read the state
/// they might have missed.
public final class RedisSubscriber: Sendable {
    /// Receives a message: its channel and payload.
    public typealias MessageHandler = @Sendable (_ channel: String, _ payload: ByteBuffer) -> Void

    fileprivate typealias Completion = @Sendable (Result<Void, RedisError>) -> Void

    fileprivate enum Operation: Sendable {
        case subscribe(String, Completion?)
        case unsubscribe(String, Completion?)
    }

    /// What callers and the thread share, behind one lock.
    fileprivate struct Shared: Sendable {
        /// The channels held: subscribed, or to subscribe on (re)connect.
        var channels: Set<String> = []
        /// Requests the thread has not taken yet.
        var pending: [Operation] = []
        var closed = false
    }

    private let shared = NIOLockedValueBox(Shared())
    private let wakeup = WakeupPipe()
    private let thread: NIOLockedValueBox<DedicatedThread?>

    /// Starts the subscriber thread, which connects right away.
    ///
    /// - Parameters:
    ///   - configuration: where to connect; `connectionCount` and `database`
    ///     do not apply.
    ///   - onReconnect: called on the subscriber thread after a reconnect,
    ///     once every held channel is subscribed again.
    ///   - handler: called on the subscriber thread for every message.
    public init(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "RelayStore.RedisSubscriber"),
        onReconnect: (@Sendable () -> Void)? = nil,
        handler: @escaping MessageHandler
    ) {
        self.thread = NIOLockedValueBox(nil)
        let shared = self.shared
        let wakeup = self.wakeup
        let thread = DedicatedThread.start(name: "redis-pubsub") {
            var loop = SubscriberLoop(
                configuration: configuration,
                logger: logger,
                shared: shared,
                wakeup: wakeup,
                handler: handler,
                onReconnect: onReconnect
            )
            loop.run()
        }
        self.thread.withLockedValue { $0 = thread }
    }

    deinit {
        // Without `close()`: stop the thread and let it go.
        self.shared.withLockedValue { $0.closed = true }
        self.wakeup.wake()
        self.thread.withLockedValue { $0 }?.detach()
    }

    /// The channels currently held (subscribed, or to be subscribed on reconnect).
    public var channels: Set<String> {
        self.shared.withLockedValue { $0.channels }
    }

    private func submit(_ operation: Operation) {
        let accepted = self.shared.withLockedValue { shared -> Bool in
            guard !shared.closed else { return false }
            switch operation {
            case .subscribe(let channel, _): shared.channels.insert(channel)
            case .unsubscribe(let channel, _): shared.channels.remove(channel)
            }
            shared.pending.append(operation)
            return true
        }
        if accepted {
            self.wakeup.wake()
        } else {
            switch operation {
            case .subscribe(_, let completion), .unsubscribe(_, let completion):
                completion?(.failure(.closedError))
            }
        }
    }

    /// Subscribes to `channel`; returns once Redis has confirmed it.
    ///
    /// Throws `.connection` when the connection fails first (the channel
    /// stays held and is subscribed on reconnect, followed by
    /// `onReconnect`), `.closed` after `close()`.
    public func subscribe(channel: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(.subscribe(channel) { continuation.resume(with: $0.mapError { $0 as any Error }) })
        }
    }

    /// Unsubscribes from `channel`; returns once Redis has confirmed it (or
    /// at once when there is no connection: nothing is subscribed then).
    /// No message of `channel` reaches the handler after it returns.
    public func unsubscribe(channel: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(.unsubscribe(channel) { continuation.resume(with: $0.mapError { $0 as any Error }) })
        }
    }

    /// `subscribe(channel:)`, completed on `eventLoop`.
    public func subscribe(channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        self.submit(.subscribe(channel) { promise.completeWith($0.mapError { $0 as any Error }) })
        return promise.futureResult
    }

    /// `unsubscribe(channel:)`, completed on `eventLoop`.
    public func unsubscribe(channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        self.submit(.unsubscribe(channel) { promise.completeWith($0.mapError { $0 as any Error }) })
        return promise.futureResult
    }

    /// Stops the subscriber: pending requests fail with `.closed`, the
    /// connection closes and the thread is joined (so this blocks briefly;
    /// do not call it on an event loop, nor from the handler). No handler
    /// call happens after it returns. Calling it again does nothing.
    public func close() {
        self.shared.withLockedValue { $0.closed = true }
        self.wakeup.wake()
        let thread = self.thread.withLockedValue { thread in
            defer { thread = nil }
            return thread
        }
        if let thread, !thread.isCurrent { thread.join() }
    }
}

/// The subscriber thread's state and loop. Lives on that thread only.
private struct SubscriberLoop {
    /// A confirmation Redis owes for a SUBSCRIBE or UNSUBSCRIBE sent.
    struct Expected {
        var subscribe: Bool
        var channel: String
        var completion: RedisSubscriber.Completion?
        /// Part of the resubscription after a reconnect.
        var isResubscription: Bool
    }

    let configuration: RedisConfiguration
    var logger: Logger
    let shared: NIOLockedValueBox<RedisSubscriber.Shared>
    let wakeup: WakeupPipe
    let handler: RedisSubscriber.MessageHandler
    let onReconnect: (@Sendable () -> Void)?

    var connection: RedisConnection? = nil
    var expected: [Expected] = []
    var expectedHead = 0
    var wantsWrite = false
    var hasConnected = false
    var resubscriptionsOutstanding = 0
    var backoff: Backoff
    var nextAttempt: NIODeadline = .distantPast

    init(
        configuration: RedisConfiguration,
        logger: Logger,
        shared: NIOLockedValueBox<RedisSubscriber.Shared>,
        wakeup: WakeupPipe,
        handler: @escaping RedisSubscriber.MessageHandler,
        onReconnect: (@Sendable () -> Void)?
    ) {
        self.configuration = configuration
        self.logger = logger
        self.shared = shared
        self.wakeup = wakeup
        self.handler = handler
        self.onReconnect = onReconnect
        self.backoff = Backoff(minimum: configuration.minimumReconnectDelay, maximum: configuration.maximumReconnectDelay)
    }

    mutating func run() {
        while true {
            let (closed, operations) = self.shared.withLockedValue { shared in
                defer { shared.pending = [] }
                return (shared.closed, shared.pending)
            }
            if closed {
                self.finish(operations)
                return
            }
            if self.connection == nil {
                let now = NIODeadline.now()
                if now < self.nextAttempt {
                    Self.settleWhileDisconnected(operations, RedisError(.connection, message: "Pub/Sub not connected; reconnecting"))
                    self.waitForWakeup(timeout: self.nextAttempt - now)
                    continue
                }
                self.connect(then: operations)
            } else {
                self.send(operations)
            }
            guard self.connection != nil else { continue }
            self.pollOnce()
        }
    }

    /// Without a connection nothing is subscribed: an unsubscribe is done at
    /// once, and a subscribe fails now (its channel stays held, to be
    /// subscribed on reconnect).
    private static func settleWhileDisconnected(_ operations: [RedisSubscriber.Operation], _ error: RedisError) {
        for operation in operations {
            switch operation {
            case .subscribe(_, let completion): completion?(.failure(error))
            case .unsubscribe(_, let completion): completion?(.success(()))
            }
        }
    }

    private func waitForWakeup(timeout: TimeAmount) {
        var descriptor = pollfd(fd: self.wakeup.readDescriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: max(1, (timeout.nanoseconds + 999_999) / 1_000_000))
        _ = poll(&descriptor, 1, milliseconds)
        self.wakeup.drain()
    }

    private mutating func connect(then operations: [RedisSubscriber.Operation]) {
        var pubsub = self.configuration
        pubsub.database = nil
        let connection: RedisConnection
        do {
            connection = try pubsub.connect()
            try connection.makeNonBlocking()
        } catch {
            let delay = self.backoff.next()
            self.nextAttempt = .now() + delay
            self.logger.warning("cannot connect to Redis for Pub/Sub", metadata: [
                "redis.address": "\(self.configuration.host):\(self.configuration.port)",
                "error": "\(error)",
                "retry.ms": "\(delay.nanoseconds / 1_000_000)",
            ])
            Self.settleWhileDisconnected(operations, error)
            return
        }
        self.connection = connection
        self.backoff.reset()
        self.logger.debug("Pub/Sub connected", metadata: ["redis.address": "\(self.configuration.host):\(self.configuration.port)"])

        let isReconnect = self.hasConnected
        self.hasConnected = true
        // Everything held is subscribed in one command. That covers the
        // requests taken with this connect: a subscribe whose channel is held
        // waits for that channel's confirmation; any other request is already
        // settled, since the fresh connection has nothing else subscribed.
        let channels = self.shared.withLockedValue { $0.channels }.sorted()
        var waiting: [String: [RedisSubscriber.Completion]] = [:]
        let held = Set(channels)
        for operation in operations {
            switch operation {
            case .subscribe(let channel, let completion):
                if held.contains(channel) {
                    if let completion { waiting[channel, default: []].append(completion) }
                } else {
                    completion?(.success(()))  // unsubscribed again since
                }
            case .unsubscribe(_, let completion):
                completion?(.success(()))
            }
        }
        if !channels.isEmpty {
            self.append(RedisCommand("SUBSCRIBE", arguments: channels.map { .string($0) }))
            for channel in channels {
                var completion: RedisSubscriber.Completion? = nil
                if let completions = waiting[channel] {
                    completion = { @Sendable (result: Result<Void, RedisError>) in
                        for complete in completions { complete(result) }
                    }
                }
                self.expected.append(Expected(subscribe: true, channel: channel, completion: completion, isResubscription: isReconnect))
            }
        }
        if isReconnect {
            self.resubscriptionsOutstanding = channels.count
            if channels.isEmpty { self.onReconnect?() }
        }
        if self.connection == nil {
            self.failExpected(RedisError(.connection, message: "connection lost"))
        }
        self.flush()
    }

    /// Appends one command; a failure drops the connection.
    private mutating func append(_ command: RedisCommand) {
        guard let connection = self.connection else { return }
        do {
            try connection.append(command)
            self.wantsWrite = true
        } catch {
            self.dropConnection(error)
        }
    }

    private mutating func send(_ operations: [RedisSubscriber.Operation]) {
        for operation in operations {
            switch operation {
            case .subscribe(let channel, let completion):
                self.append(RedisCommand("SUBSCRIBE", arguments: [.string(channel)]))
                self.expected.append(Expected(subscribe: true, channel: channel, completion: completion, isResubscription: false))
            case .unsubscribe(let channel, let completion):
                self.append(RedisCommand("UNSUBSCRIBE", arguments: [.string(channel)]))
                self.expected.append(Expected(subscribe: false, channel: channel, completion: completion, isResubscription: false))
            }
        }
        if self.connection == nil {
            // The connection broke while appending: settle what was just queued.
            self.failExpected(RedisError(.connection, message: "connection lost"))
        }
        self.flush()
    }

    private mutating func flush() {
        guard self.wantsWrite, let connection = self.connection else { return }
        do {
            self.wantsWrite = try !connection.bufferWrite()
        } catch {
            self.dropConnection(error)
        }
    }

    private mutating func pollOnce() {
        guard let connection = self.connection else { return }
        var descriptors = [
            pollfd(fd: self.wakeup.readDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: connection.fileDescriptor, events: Int16(POLLIN) | (self.wantsWrite ? Int16(POLLOUT) : 0), revents: 0),
        ]
        let ready = poll(&descriptors, 2, -1)
        if ready < 0 {
            if errno == EINTR { return }
            self.dropConnection(RedisError(.connection, message: "poll failed: errno \(errno)"))
            return
        }
        if descriptors[0].revents != 0 { self.wakeup.drain() }
        let events = descriptors[1].revents
        if events & Int16(POLLOUT) != 0 { self.flush() }
        if events & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 { self.readReplies() }
    }

    private mutating func readReplies() {
        guard let connection = self.connection else { return }
        do {
            try connection.bufferRead()
            while self.connection != nil, let reply = try connection.nextBufferedReply() {
                self.handle(reply)
            }
        } catch {
            self.dropConnection(error)
        }
    }

    private mutating func handle(_ reply: RESPValue) {
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
            if let expected = self.popExpected() { expected.completion?(.failure(RedisError(serverReply: text))) }
        default:
            self.logger.debug("unexpected Pub/Sub reply", metadata: ["reply": "\(reply)"])
        }
    }

    private mutating func popExpected() -> Expected? {
        guard self.expectedHead < self.expected.count else { return nil }
        let next = self.expected[self.expectedHead]
        self.expectedHead += 1
        if self.expectedHead == self.expected.count {
            self.expected.removeAll(keepingCapacity: true)
            self.expectedHead = 0
        }
        return next
    }

    private mutating func confirmed(subscribe: Bool, channel: String) {
        guard let expected = self.popExpected() else { return }
        if expected.subscribe != subscribe || expected.channel != channel {
            self.logger.warning("Pub/Sub confirmation out of step", metadata: ["channel": "\(channel)", "expected": "\(expected.channel)"])
        }
        expected.completion?(.success(()))
        if expected.isResubscription {
            self.resubscriptionsOutstanding -= 1
            if self.resubscriptionsOutstanding == 0 {
                self.logger.info("Pub/Sub resubscribed after reconnect")
                self.onReconnect?()
            }
        }
    }

    private mutating func failExpected(_ error: RedisError) {
        while let expected = self.popExpected() {
            // An unsubscribe is done once the connection is gone.
            expected.completion?(expected.subscribe ? .failure(error) : .success(()))
        }
        self.resubscriptionsOutstanding = 0
    }

    private mutating func dropConnection(_ error: RedisError) {
        guard self.connection != nil else { return }
        self.logger.warning("Pub/Sub connection lost", metadata: ["error": "\(error)"])
        self.connection = nil
        self.wantsWrite = false
        self.failExpected(RedisError(.connection, message: "Pub/Sub connection lost: \(error.message)"))
        // The first attempt right away; the backoff grows from there.
        self.nextAttempt = .distantPast
    }

    /// On close: settle everything and let the connection go.
    private mutating func finish(_ operations: [RedisSubscriber.Operation]) {
        self.connection = nil
        while let expected = self.popExpected() { expected.completion?(.failure(.closedError)) }
        for operation in operations {
            switch operation {
            case .subscribe(_, let completion), .unsubscribe(_, let completion):
                completion?(.failure(.closedError))
            }
        }
    }
}

@available(*, unavailable)
extension SubscriberLoop: Sendable {}
