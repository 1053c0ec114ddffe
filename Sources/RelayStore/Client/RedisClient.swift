import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A pool of Redis connections for use from any thread or task.
///
/// Each of `connectionCount` dedicated threads (never an event loop) owns one
/// connection. Requests go into one shared queue; a free thread takes all
/// that are queued (up to `maximumBatchCommands` commands), writes them in
/// one pipelined batch, reads the replies in order and completes each
/// request. The commands of one request run back to back on one connection,
/// in order; two requests from one caller may run on different connections,
/// so a caller that needs two commands ordered awaits the first or sends
/// both in one `pipeline`.
///
/// When a connection breaks, the requests in flight on it fail with
/// `.connection` (or `.timeout`): they may or may not have run, and nothing
/// is retried behind the caller's back. The thread reconnects on its next
/// batch; after a failed attempt it waits a growing delay (up to
/// `maximumReconnectDelay`) before trying again, and batches it takes in the
/// meantime fail at once with the error of that attempt (`.connection`, or
/// e.g. `.server("WRONGPASS")`).
public final class RedisClient: Sendable {
    private struct Request: Sendable {
        var commands: [RedisCommand]
        var complete: @Sendable ([Result<RESPValue, RedisError>]) -> Void
    }

    private let configuration: RedisConfiguration
    private let queue = BlockingQueue<Request>()
    private let threads: NIOLockedValueBox<[DedicatedThread]>
    private let logger: Logger
    /// `relay_redis_request_duration_seconds`: from a request being queued to its replies.
    private let requestDuration = CoreMetrics.Timer(label: "relay_redis_request_duration_seconds")

    /// Starts the pool's threads; each connects right away, and again
    /// whenever it has work and no connection.
    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "RelayStore.RedisClient")) {
        precondition(configuration.connectionCount > 0, "connectionCount must be positive")
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOLockedValueBox([])
        let queue = self.queue
        var threads: [DedicatedThread] = []
        for index in 0..<configuration.connectionCount {
            threads.append(DedicatedThread.start(name: "redis-\(index)") {
                var worker = Worker(index: index, configuration: configuration, logger: logger)
                worker.run(queue: queue)
            })
        }
        self.threads.withLockedValue { $0 = threads }
    }

    deinit {
        // Without `close()`: the threads hold only the queue; closing it lets
        // them exit, and detaching them frees their resources when they do.
        for request in self.queue.close() { request.complete(Self.closedResults(request.commands.count)) }
        for thread in self.threads.withLockedValue({ $0 }) { thread.detach() }
    }

    /// Stops the pool: fails the requests still queued with `.closed`, lets
    /// each thread finish the batch it is running, and joins the threads.
    /// Blocks until then, so do not call it on an event loop. Later requests
    /// fail with `.closed`. Calling it again does nothing.
    public func close() {
        for request in self.queue.close() { request.complete(Self.closedResults(request.commands.count)) }
        let threads = self.threads.withLockedValue { threads in
            defer { threads = [] }
            return threads
        }
        for thread in threads where !thread.isCurrent { thread.join() }
    }

    private static func closedResults(_ count: Int) -> [Result<RESPValue, RedisError>] {
        Array(repeating: .failure(.closedError), count: count)
    }

    private func enqueue(_ request: Request) {
        var request = request
        let complete = request.complete
        let timer = requestDuration
        let start = NIODeadline.now()
        request.complete = { results in
            timer.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
            complete(results)
        }
        if !self.queue.push(request) { request.complete(Self.closedResults(request.commands.count)) }
    }

    // MARK: Futures

    /// Sends `command`; the future succeeds with its reply, or fails with a
    /// `RedisError` (an error reply is `.server(code)`). Completed on `eventLoop`.
    public func send(_ command: RedisCommand, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        let promise = eventLoop.makePromise(of: RESPValue.self)
        self.enqueue(Request(commands: [command]) { results in
            switch results[0] {
            case .success(let value): promise.succeed(value)
            case .failure(let error): promise.fail(error)
            }
        })
        return promise.futureResult
    }

    /// Sends `commands` as one request: they run back to back on one
    /// connection, and the future succeeds with one result per command, in
    /// order (a command's error reply fails only that command). An empty
    /// array succeeds at once.
    public func pipeline(_ commands: [RedisCommand], on eventLoop: any EventLoop) -> EventLoopFuture<[Result<RESPValue, RedisError>]> {
        guard !commands.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        let promise = eventLoop.makePromise(of: [Result<RESPValue, RedisError>].self)
        self.enqueue(Request(commands: commands) { results in promise.succeed(results) })
        return promise.futureResult
    }

    // MARK: async

    /// Sends `command` and returns its reply; throws a `RedisError` (an error
    /// reply is `.server(code)`). Cancelling the task does not cancel the command.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RESPValue, any Error>) in
            self.enqueue(Request(commands: [command]) { results in 
                switch results[0] {
                case .success(let value): continuation.resume(returning: value)
                case .failure(let error): continuation.resume(throwing: error)
                }
             })
        }
    }

    /// Sends `commands` as one request (see `pipeline(_:on:)`) and returns one
    /// result per command, in order. A command's failure is in its result
    /// (every command fails with `.closed` on a closed client); `throws` is
    /// reserved for request-level failures.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [Result<RESPValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<RESPValue, RedisError>], Never>) in
            self.enqueue(Request(commands: commands) { results in continuation.resume(returning: results) })
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

    // MARK: Worker

    /// The state of one pool thread: its connection and reconnect timing.
    private struct Worker {
        let index: Int
        let configuration: RedisConfiguration
        var logger: Logger
        var connection: RedisConnection?
        var backoff: Backoff
        /// No connect attempt before this, after a failed one.
        var nextAttempt: NIODeadline = .distantPast
        /// Why the last connect attempt failed.
        var lastConnectError: RedisError? = nil

        init(index: Int, configuration: RedisConfiguration, logger: Logger) {
            self.index = index
            self.configuration = configuration
            self.logger = logger
            self.logger[metadataKey: "redis.connection"] = "\(index)"
            self.backoff = Backoff(minimum: configuration.minimumReconnectDelay, maximum: configuration.maximumReconnectDelay)
        }

        mutating func run(queue: BlockingQueue<Request>) {
            _ = self.connectIfNeeded()
            while let batch = queue.popBatch(maximumWeight: self.configuration.maximumBatchCommands, weight: { $0.commands.count }) {
                let results: [[Result<RESPValue, RedisError>]]
                switch self.connectIfNeeded() {
                case .success(let connection):
                    results = self.execute(batch.map(\.commands), on: connection)
                case .failure(let error):
                    results = batch.map { Array(repeating: .failure(error), count: $0.commands.count) }
                }
                for (request, result) in zip(batch, results) { request.complete(result) }
            }
            self.connection = nil
        }

        private mutating func connectIfNeeded() -> Result<RedisConnection, RedisError> {
            if let connection = self.connection { return .success(connection) }
            let now = NIODeadline.now()
            guard now >= self.nextAttempt else {
                // Report why the last attempt failed (a refused connection, a wrong password...).
                var error = self.lastConnectError ?? RedisError(.connection)
                error.message += " (next connect attempt in \((self.nextAttempt - now).nanoseconds / 1_000_000) ms)"
                return .failure(error)
            }
            do {
                let connection = try self.configuration.connect()
                self.connection = connection
                self.backoff.reset()
                self.logger.debug("connected", metadata: ["redis.address": "\(self.configuration.host):\(self.configuration.port)"])
                return .success(connection)
            } catch {
                self.lastConnectError = error
                let delay = self.backoff.next()
                self.nextAttempt = .now() + delay
                self.logger.warning("cannot connect to Redis", metadata: [
                    "redis.address": "\(self.configuration.host):\(self.configuration.port)",
                    "error": "\(error)",
                    "retry.ms": "\(delay.nanoseconds / 1_000_000)",
                ])
                return .failure(error)
            }
        }

        /// One reply slot of a batch: a request's command, or a `SCRIPT LOAD`
        /// put in front of an `EVALSHA`.
        private struct Slot {
            var request: Int
            var command: Int
            var isScriptLoad: Bool
        }

        /// Pipelines every command of `requests` and returns their results.
        private mutating func execute(_ requests: [[RedisCommand]], on connection: RedisConnection) -> [[Result<RESPValue, RedisError>]] {
            var results: [[Result<RESPValue, RedisError>?]] = requests.map { Array(repeating: nil, count: $0.count) }
            var slots: [Slot] = []
            slots.reserveCapacity(requests.reduce(0) { $0 + $1.count })
            var failure = RedisError(.connection, message: "connection lost before the reply")
            do throws(RedisError) {
                for (r, commands) in requests.enumerated() {
                    for (c, command) in commands.enumerated() {
                        if let script = command.script, !connection.loadedScripts.contains(script.sha1) {
                            try connection.append(script.loadCommand)
                            slots.append(Slot(request: r, command: c, isScriptLoad: true))
                            connection.loadedScripts.insert(script.sha1)
                        }
                        try connection.append(command)
                        slots.append(Slot(request: r, command: c, isScriptLoad: false))
                    }
                }
                var loadFailure: RedisError? = nil
                for slot in slots {
                    let reply = try connection.readReply().asResult
                    if slot.isScriptLoad {
                        if case .failure(let error) = reply {
                            loadFailure = error
                            if let script = requests[slot.request][slot.command].script { connection.loadedScripts.remove(script.sha1) }
                        }
                        continue
                    }
                    if let failure = loadFailure {
                        // The script did not compile: report that, not the NOSCRIPT that follows.
                        results[slot.request][slot.command] = .failure(failure)
                        loadFailure = nil
                    } else {
                        results[slot.request][slot.command] = reply
                    }
                }
                try self.retryMissingScripts(requests, &results, on: connection)
            } catch {
                self.logger.warning("Redis connection failed", metadata: ["error": "\(error)"])
                failure = error
                self.connection = nil
                self.nextAttempt = .distantPast  // try once right away on the next batch
            }
            return results.map { row in
                row.map { $0 ?? .failure(failure) }
            }
        }

        /// Re-runs, once, the scripts that got `NOSCRIPT` (the server's script
        /// cache was flushed after this connection loaded them).
        private func retryMissingScripts(
            _ requests: [[RedisCommand]],
            _ results: inout [[Result<RESPValue, RedisError>?]],
            on connection: RedisConnection
        ) throws(RedisError) {
            var retries: [(request: Int, command: Int)] = []
            for (r, row) in results.enumerated() {
                for (c, result) in row.enumerated() {
                    if case .failure(let error)? = result, error.serverCode == "NOSCRIPT", let script = requests[r][c].script {
                        connection.loadedScripts.remove(script.sha1)
                        retries.append((r, c))
                    }
                }
            }
            guard !retries.isEmpty else { return }
            var slots: [(request: Int, command: Int, isScriptLoad: Bool)] = []
            for (r, c) in retries {
                let command = requests[r][c]
                let script = command.script!
                if !connection.loadedScripts.contains(script.sha1) {
                    try connection.append(script.loadCommand)
                    slots.append((r, c, true))
                    connection.loadedScripts.insert(script.sha1)
                }
                try connection.append(command)
                slots.append((r, c, false))
            }
            var loadFailure: RedisError? = nil
            for slot in slots {
                let reply = try connection.readReply().asResult
                if slot.isScriptLoad {
                    if case .failure(let error) = reply {
                        loadFailure = error
                        connection.loadedScripts.remove(requests[slot.request][slot.command].script!.sha1)
                    }
                } else {
                    results[slot.request][slot.command] = loadFailure.map { .failure($0) } ?? reply
                    loadFailure = nil
                }
            }
        }
    }
}
