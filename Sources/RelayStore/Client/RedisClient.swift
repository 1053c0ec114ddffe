import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Redis connections on the event loops of a group, for use from any
/// thread or task.
///
/// Each event loop of the group holds `connectionCount` pipelined
/// connections (see `RedisConnection`): RESP is spoken on the loop itself,
/// with no thread of its own and no blocking call. A request issued with
/// `on: eventLoop` goes to a connection of that loop (when it belongs to the
/// group), so it never leaves its loop and its future completes there; an
/// `async` request goes to the current loop's connection when called on one,
/// else to the next loop's. The commands of one request run back to back on
/// one connection, in order. Requests issued on one loop run in issue order
/// when the loop has one connection; with several, a tick's requests spill
/// to the next connection past 16 KiB (see `LoopConnections`), so a caller
/// that needs two requests ordered awaits the first or sends both in one
/// `pipeline`.
///
/// When a connection breaks, the requests in flight on it fail with a typed
/// error (`.connection`, `.protocol`, `.timeout`): they may or may not have
/// run, and nothing is retried behind the caller's back. It reconnects at
/// once; after a failed attempt it waits a growing delay (up to
/// `maximumReconnectDelay`), and requests made in the meantime fail at once
/// with the error of that attempt (`.connection`, or e.g. `.server("WRONGPASS")`).
/// Back-pressure: a connection holding `maximumPendingCommands` commands
/// refuses more with `.overloaded`.
///
/// **Cluster mode** (`configuration.clusterSeeds` not empty, decision
/// 0023): the client reads the cluster's slot map (`CLUSTER SLOTS`) and
/// each loop keeps one connection per node it sends to. Each command goes
/// to the master of its keys' slot (a keyless one with the command before
/// it in its request); a request's commands for one node run back to back
/// there, in order, but the parts for different nodes run independently,
/// so a caller that needs two slots' writes ordered awaits the first. A
/// `MOVED` updates the map and the command goes where it says; an `ASK`
/// sends it there once behind `ASKING`; either runs after the request's
/// other commands. A command whose keys span slots fails unsent with
/// `.server("CROSSSLOT")`. The map is read again after a redirect, a
/// connection failure or `CLUSTERDOWN`, and every `clusterRefreshInterval`,
/// so the client follows a failover once the cluster has promoted a replica.
/// A `SCAN` sent alone walks every master in turn (`ClusterScanCursor`);
/// `PUBSUB NUMSUB` is asked of every seed and the counts summed.
public final class RedisClient: Sendable {
    /// The connections of one event loop.
    ///
    /// Requests go to one connection until it holds `spillBytes` written
    /// during the current tick; the rest of the tick's requests go to the
    /// next one, and so on. Redis reads at most 16 KiB (`PROTO_IOBUF_LEN`)
    /// from one client per pass of its event loop, and with `appendfsync
    /// always` it fsyncs once per pass: a burst spread over several
    /// connections is read (and made durable) in fewer passes, while a light
    /// load stays on one connection and costs one write per tick.
    private final class LoopConnections {
        static let spillBytes = 16 * 1024
        let connections: [RedisConnection]
        private var current = 0

        init(_ connections: [RedisConnection]) {
            self.connections = connections
        }

        func pick() -> RedisConnection {
            let connection = self.connections[self.current]
            guard self.connections.count > 1, connection.unflushedBytes >= Self.spillBytes else { return connection }
            self.current = (self.current + 1) % self.connections.count
            return self.connections[self.current]
        }
    }

    /// What a loop sends requests through: its connections to one Redis, or its part of a cluster client.
    private enum LoopBackend {
        case single(LoopConnections)
        case cluster(ClusterLoop)

        func submit(_ request: RedisConnection.Request) {
            switch self {
            case .single(let connections): connections.pick().submit(request)
            case .cluster(let cluster): cluster.submit(request)
            }
        }

        func close() {
            switch self {
            case .single(let connections): for connection in connections.connections { connection.close() }
            case .cluster(let cluster): cluster.close()
            }
        }
    }

    private let group: any EventLoopGroup
    private let configuration: RedisConfiguration
    private let logger: Logger
    /// By `ObjectIdentifier` of the event loop. Each box is filled on its
    /// loop, by the first task that runs there (see `connections(_:)`).
    private let loops: [ObjectIdentifier: Loop]
    /// The group's first loop, for a `next()` that is not one of the loops iterated.
    private let fallback: Loop
    private let closed = NIOLockedValueBox(false)
    /// The cluster's slot map, shared by the loops (nil: one Redis).
    private let topology: ClusterTopology?
    /// The periodic read of the slot map, in cluster mode.
    private let periodicRefresh = NIOLockedValueBox<RepeatedTask?>(nil)
    /// `relay_redis_request_duration_seconds`: from a request being issued to its replies.
    private let requestDuration = CoreMetrics.Timer(label: "relay_redis_request_duration_seconds")

    /// One event loop and its connections.
    private struct Loop: Sendable {
        var eventLoop: any EventLoop
        var index: Int
        var box: NIOLoopBoundBox<LoopBackend?>
    }

    /// Opens `connectionCount` connections on each event loop of
    /// `eventLoopGroup` (nil: `MultiThreadedEventLoopGroup.singleton`); they
    /// connect right away.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "RelayStore.RedisClient")
    ) {
        precondition(configuration.connectionCount > 0, "connectionCount must be positive")
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.group = group
        self.configuration = configuration
        self.logger = logger
        let topology = configuration.isCluster
            ? ClusterTopology(
                seeds: configuration.clusterSeeds, minimumRefreshInterval: configuration.clusterMinimumRefreshInterval,
                replicaAcks: ReplicaAcks(replicas: configuration.clusterReplicaAcks, timeout: configuration.clusterReplicaAckTimeout))
            : nil
        self.topology = topology
        // A group with no iterable loops (not one of NIO's) gets one loop, its `next()`.
        var eventLoops = Array(group.makeIterator())
        if eventLoops.isEmpty { eventLoops = [group.next()] }
        var loops: [ObjectIdentifier: Loop] = [:]
        for (index, eventLoop) in eventLoops.enumerated() {
            loops[ObjectIdentifier(eventLoop)] = Loop(
                eventLoop: eventLoop, index: index,
                box: .makeEmptyBox(valueType: LoopBackend.self, eventLoop: eventLoop))
        }
        self.loops = loops
        self.fallback = loops[ObjectIdentifier(eventLoops[0])] ?? Loop(
            eventLoop: eventLoops[0], index: 0, box: .makeEmptyBox(valueType: LoopBackend.self, eventLoop: eventLoops[0]))
        for loop in loops.values {
            loop.eventLoop.execute { _ = Self.connections(loop, configuration, topology, logger) }
        }
        if topology != nil {
            let first = self.fallback
            let interval = configuration.clusterRefreshInterval
            self.periodicRefresh.withLockedValue {
                $0 = first.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                    if case .cluster(let cluster) = Self.connections(first, configuration, topology, logger) { cluster.refreshSoon() }
                }
            }
        }
    }

    /// The slot map of a cluster client, for the subscriber's sharded
    /// Pub/Sub (nil: the client talks to one Redis).
    public var clusterRouting: ClusterRouting? {
        guard let topology = self.topology else { return nil }
        let (first, configuration, logger) = (self.fallback, self.configuration, self.logger)
        return ClusterRouting(topology: topology) {
            first.eventLoop.execute {
                if case .cluster(let cluster) = Self.connections(first, configuration, topology, logger) { cluster.refreshSoon() }
            }
        }
    }

    /// The connections of `loop`, made (and started) on first use. Call on `loop`.
    private static func connections(
        _ loop: Loop, _ configuration: RedisConfiguration, _ topology: ClusterTopology?, _ logger: Logger
    ) -> LoopBackend {
        if let backend = loop.box.value { return backend }
        if let topology {
            let cluster = ClusterLoop(configuration: configuration, topology: topology, eventLoop: loop.eventLoop, index: loop.index, logger: logger)
            loop.box.value = .cluster(cluster)
            cluster.refreshSoon()
            return .cluster(cluster)
        }
        var connections: [RedisConnection] = []
        for number in 0..<configuration.connectionCount {
            let index = loop.index * configuration.connectionCount + number
            connections.append(RedisConnection(configuration: configuration, eventLoop: loop.eventLoop, index: index, logger: logger))
        }
        let made = LoopConnections(connections)
        loop.box.value = .single(made)
        for connection in connections { connection.start() }
        return .single(made)
    }

    deinit {
        // Without `close()`: close the connections on their loops, without waiting.
        self.periodicRefresh.withLockedValue { $0?.cancel() }
        for loop in self.loops.values {
            loop.eventLoop.execute { loop.box.value?.close() }
        }
    }

    /// Closes every connection: the requests waiting or in flight fail with
    /// `.closed` (one in flight may or may not have run), and so do later
    /// ones. Returns once every loop has done so, except when called on an
    /// event loop, where it returns at once (the loops close their
    /// connections right after). Calling it again does nothing.
    public func close() {
        let first = self.closed.withLockedValue { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        self.periodicRefresh.withLockedValue { $0?.cancel() }
        let onEventLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
        var done: [EventLoopFuture<Void>] = []
        let (configuration, topology, logger) = (self.configuration, self.topology, self.logger)
        for loop in self.loops.values {
            if loop.eventLoop.inEventLoop {
                Self.connections(loop, configuration, topology, logger).close()
            } else {
                done.append(loop.eventLoop.submit { Self.connections(loop, configuration, topology, logger).close() })
            }
        }
        guard !onEventLoop else { return }
        for future in done { try? future.wait() }
    }

    /// Hands `request` to a connection of `eventLoop` (or of the next loop
    /// of the group when `eventLoop` is not one of its loops).
    private func submit(_ request: RedisConnection.Request, preferring eventLoop: (any EventLoop)?) {
        let complete = request.complete
        let timer = self.requestDuration
        let start = NIODeadline.now()
        let request = RedisConnection.Request(commands: request.commands) { results in
            timer.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
            complete(results)
        }
        let loop = eventLoop.flatMap { self.loops[ObjectIdentifier($0)] } ?? self.nextLoop()
        let (configuration, topology, logger) = (self.configuration, self.topology, self.logger)
        if loop.eventLoop.inEventLoop {
            Self.connections(loop, configuration, topology, logger).submit(request)
        } else {
            loop.eventLoop.execute { Self.connections(loop, configuration, topology, logger).submit(request) }
        }
    }

    private func nextLoop() -> Loop {
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, let loop = self.loops[ObjectIdentifier(current)] {
            return loop
        }
        return self.loops[ObjectIdentifier(self.group.next())] ?? self.fallback
    }

    // MARK: Futures

    /// Sends `command`; the future succeeds with its reply, or fails with a
    /// `RedisError` (an error reply is `.server(code)`). Completed on `eventLoop`.
    public func send(_ command: RedisCommand, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        let promise = eventLoop.makePromise(of: RESPValue.self)
        self.submit(RedisConnection.Request(commands: [command]) { results in
            switch results[0] {
            case .success(let value): promise.succeed(value)
            case .failure(let error): promise.fail(error)
            }
        }, preferring: eventLoop)
        return promise.futureResult
    }

    /// Sends `commands` as one request: they run back to back on one
    /// connection, and the future succeeds with one result per command, in
    /// order (a command's error reply fails only that command). An empty
    /// array succeeds at once.
    public func pipeline(_ commands: [RedisCommand], on eventLoop: any EventLoop) -> EventLoopFuture<[Result<RESPValue, RedisError>]> {
        guard !commands.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        let promise = eventLoop.makePromise(of: [Result<RESPValue, RedisError>].self)
        self.submit(RedisConnection.Request(commands: commands) { results in promise.succeed(results) }, preferring: eventLoop)
        return promise.futureResult
    }

    // MARK: async

    /// Sends `command` and returns its reply; throws a `RedisError` (an error
    /// reply is `.server(code)`). Cancelling the task does not cancel the command.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RESPValue, any Error>) in
            self.submit(RedisConnection.Request(commands: [command]) { results in
                switch results[0] {
                case .success(let value): continuation.resume(returning: value)
                case .failure(let error): continuation.resume(throwing: error)
                }
            }, preferring: nil)
        }
    }

    /// Sends `commands` as one request (see `pipeline(_:on:)`) and returns one
    /// result per command, in order. A command's failure is in its result
    /// (every command fails with `.closed` on a closed client); `throws` is
    /// reserved for request-level failures.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [Result<RESPValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<RESPValue, RedisError>], Never>) in
            self.submit(RedisConnection.Request(commands: commands) { results in continuation.resume(returning: results) }, preferring: nil)
        }
    }

    /// Runs `script` with `keys` and `arguments` (loading it first where
    /// needed) and returns its reply.
    public func evaluate(
        _ script: RedisScript,
        keys: [any RedisArgumentConvertible] = [],
        arguments: [any RedisArgumentConvertible] = []
    ) async throws -> RESPValue {
        try await self.send(script.command(keys: keys, arguments: arguments))
    }
}
