import Logging
import NIOCore

/// One pipelined connection to Redis, living on one event loop: every
/// method runs there, and the socket is a NIO channel of that loop (no
/// thread of its own, no blocking call).
///
/// Requests are encoded and written as they arrive, and flushed once per
/// event-loop tick (one `writev` for everything written during the tick); replies come
/// back in order and complete the requests in order. At most
/// `maximumPendingCommands` commands wait or are in flight: a request past
/// that fails at once with `.overloaded` (nothing is sent).
///
/// When the connection breaks (closed, reset, a reply that is not RESP or
/// too large, a command past `commandTimeout`), every request in flight
/// fails with that error (`.connection`, `.protocol`, `.timeout`): it may or
/// may not have run, and nothing is retried behind the caller's back. The
/// connection reconnects right away; requests made meanwhile wait for it.
/// A failed connect attempt (refused, timed out, `AUTH` or `SELECT`
/// refused) fails the waiting requests with its error, and until the next
/// attempt (after a growing delay) new requests fail at once with it too.
///
/// Scripts: an `EVALSHA` whose script this connection has not loaded is
/// preceded by `SCRIPT LOAD` in the same write; an `EVALSHA` answered with
/// `NOSCRIPT` (the server's script cache was flushed) is loaded and sent
/// again, once, behind what was already pipelined.
final class RedisConnection: RedisChannelOwner {
    /// A request as handed over from any thread: its commands and what to
    /// call with one result per command, in order.
    struct Request: Sendable {
        var commands: [RedisCommand]
        var complete: @Sendable ([Result<RESPValue, RedisError>]) -> Void
    }

    /// A request accepted by this connection, collecting its results.
    private final class Tracked {
        let commands: [RedisCommand]
        let complete: @Sendable ([Result<RESPValue, RedisError>]) -> Void
        var results: [Result<RESPValue, RedisError>?]
        var outstanding: Int

        init(_ request: Request) {
            self.commands = request.commands
            self.complete = request.complete
            self.results = Array(repeating: nil, count: request.commands.count)
            self.outstanding = request.commands.count
        }
    }

    /// What a reply in flight answers.
    private enum Slot {
        /// The `SCRIPT LOAD` put before command `index` of a request.
        case scriptLoad(Tracked, index: Int)
        /// Command `index` of a request; `isRetry` after a `NOSCRIPT`.
        case command(Tracked, index: Int, isRetry: Bool)
    }

    private struct InFlight {
        var slot: Slot
        var sentAt: NIODeadline
    }

    private enum State {
        /// Connecting (TCP, then the handshake); requests wait in `waiting`.
        case connecting
        /// Connected: requests are written as they come.
        case ready(any Channel)
        /// The last attempt failed with `error`; the next is at `nextAttempt`.
        case waitingToReconnect(nextAttempt: NIODeadline, error: RedisError)
        case closed
    }

    let eventLoop: any EventLoop
    let configuration: RedisConfiguration
    let handshake: [RedisCommand]
    private var logger: Logger
    private var state: State = .connecting
    /// Bumped on every connect and on close: callbacks of an older channel are ignored.
    private var generation = 0
    /// The channel of the current attempt, once it exists.
    var channel: (any Channel)?
    private var waiting = CircularBuffer<Tracked>()
    private var inFlight = CircularBuffer<InFlight>()
    /// Commands accepted and not yet completed (waiting or in flight).
    private var pendingCommands = 0
    /// Whether a flush is scheduled for the end of this tick.
    private var flushScheduled = false
    /// Bytes written during this tick, not flushed yet (see `RedisClient`'s
    /// spreading of a tick's requests over a loop's connections).
    private(set) var unflushedBytes = 0
    private var timeoutCheck: Scheduled<Void>?
    private var backoff: Backoff
    /// SHA1s of the scripts loaded on the current channel.
    private var loadedScripts: Set<String> = []

    /// A connection for `eventLoop`; it connects on `start()`.
    init(configuration: RedisConfiguration, eventLoop: any EventLoop, index: Int, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.handshake = RedisChannelHandler.handshake(for: configuration, selectDatabase: true)
        self.logger = logger
        self.logger[metadataKey: "redis.connection"] = "\(index)"
        self.backoff = Backoff(minimum: configuration.minimumReconnectDelay, maximum: configuration.maximumReconnectDelay)
    }

    /// Makes the first connect attempt.
    func start() {
        self.eventLoop.preconditionInEventLoop()
        guard case .connecting = self.state, self.generation == 0 else { return }
        self.connect()
    }

    // MARK: Requests

    /// Takes `request`: sends it, queues it until connected, or fails it at
    /// once (`.closed`, `.overloaded`, or the last connect error while
    /// waiting to reconnect).
    func submit(_ request: Request) {
        self.eventLoop.preconditionInEventLoop()
        let count = request.commands.count
        switch self.state {
        case .closed:
            request.complete(Array(repeating: .failure(.closedError), count: count))
            return
        case .waitingToReconnect(let nextAttempt, var error):
            let milliseconds = max(0, (nextAttempt - .now()).nanoseconds / 1_000_000)
            error.message += " (next connect attempt in \(milliseconds) ms)"
            request.complete(Array(repeating: .failure(error), count: count))
            return
        case .connecting, .ready:
            break
        }
        guard self.pendingCommands == 0 || self.pendingCommands + count <= self.configuration.maximumPendingCommands else {
            let error = RedisError(.overloaded, message: "\(self.pendingCommands) commands already pending on this connection")
            request.complete(Array(repeating: .failure(error), count: count))
            return
        }
        guard count > 0 else {
            request.complete([])
            return
        }
        self.pendingCommands += count
        let tracked = Tracked(request)
        if case .ready(let channel) = self.state {
            self.write(tracked, on: channel)
        } else {
            self.waiting.append(tracked)
        }
    }

    /// Encodes every command of `tracked` (with `SCRIPT LOAD`s where
    /// needed) into one buffer and writes it, unflushed: the flush at the
    /// end of the tick sends everything written during the tick at once
    /// (NIO gathers the buffers into one `writev`). One small buffer per
    /// request, rather than one growing buffer per tick, keeps the
    /// allocations small and reused.
    private func write(_ tracked: Tracked, on channel: any Channel) {
        var buffer = channel.allocator.buffer(capacity: 64 * tracked.commands.count)
        let now = NIODeadline.now()
        for (index, command) in tracked.commands.enumerated() {
            if let script = command.script, !self.loadedScripts.contains(script.sha1) {
                self.append(script.loadCommand, .scriptLoad(tracked, index: index), sentAt: now, to: &buffer)
                self.loadedScripts.insert(script.sha1)
            }
            self.append(command, .command(tracked, index: index, isRetry: false), sentAt: now, to: &buffer)
        }
        self.write(buffer, on: channel)
    }

    private func append(_ command: RedisCommand, _ slot: Slot, sentAt: NIODeadline, to buffer: inout ByteBuffer) {
        do {
            try command.encode(into: &buffer)
        } catch {
            if case .command(let tracked, let index, _) = slot { self.finish(tracked, index, .failure(error)) }
            return
        }
        self.inFlight.append(InFlight(slot: slot, sentAt: sentAt))
        if self.timeoutCheck == nil { self.armTimeoutCheck() }
    }

    private func write(_ buffer: ByteBuffer, on channel: any Channel) {
        guard buffer.readableBytes > 0 else { return }
        self.unflushedBytes += buffer.readableBytes
        channel.write(buffer, promise: nil)
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        self.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.unflushedBytes = 0
            if case .ready(let channel) = self.state { channel.flush() }
        }
    }

    /// Records the result of command `index` of `tracked` (the first result
    /// recorded stands) and completes the request after its last command.
    private func finish(_ tracked: Tracked, _ index: Int, _ result: Result<RESPValue, RedisError>) {
        if tracked.results[index] == nil { tracked.results[index] = result }
        tracked.outstanding -= 1
        self.pendingCommands -= 1
        if tracked.outstanding == 0 {
            tracked.complete(tracked.results.map { $0 ?? .failure(RedisError(.protocol, message: "no result")) })
        }
    }

    // MARK: Replies

    func received(_ reply: RESPValue, generation: Int) {
        guard generation == self.generation, case .ready = self.state else { return }
        guard let head = self.inFlight.popFirst() else {
            self.failed(RedisError(.protocol, message: "a reply to no request"), generation: generation)
            return
        }
        switch head.slot {
        case .scriptLoad(let tracked, let index):
            if case .failure(let error) = reply.asResult {
                // The script did not load (e.g. it does not compile): report
                // that, not the NOSCRIPT that follows.
                if let script = tracked.commands[index].script { self.loadedScripts.remove(script.sha1) }
                if tracked.results[index] == nil { tracked.results[index] = .failure(error) }
            }
        case .command(let tracked, let index, let isRetry):
            let result = reply.asResult
            if case .failure(let error) = result, error.serverCode == "NOSCRIPT", !isRetry, tracked.results[index] == nil,
                let script = tracked.commands[index].script
            {
                // The server's script cache was flushed: load it and run it again, once.
                guard case .ready(let channel) = self.state else { return }
                var buffer = channel.allocator.buffer(capacity: script.source.utf8.count + 256)
                let now = NIODeadline.now()
                self.append(script.loadCommand, .scriptLoad(tracked, index: index), sentAt: now, to: &buffer)
                self.loadedScripts.insert(script.sha1)
                self.append(tracked.commands[index], .command(tracked, index: index, isRetry: true), sentAt: now, to: &buffer)
                self.write(buffer, on: channel)
                return
            }
            self.finish(tracked, index, result)
        }
    }

    // MARK: Connecting

    private func connect() {
        self.state = .connecting
        self.generation &+= 1
        self.channel = nil
        self.loadedScripts = []
        openChannel(generation: self.generation)
    }

    func ready(_ channel: any Channel, generation: Int) {
        guard generation == self.generation, case .connecting = self.state else {
            channel.close(promise: nil)
            return
        }
        self.state = .ready(channel)
        self.backoff.reset()
        self.logger.debug("connected", metadata: ["redis.address": "\(self.configuration.host):\(self.configuration.port)"])
        while let tracked = self.waiting.popFirst() { self.write(tracked, on: channel) }
    }

    /// The current channel or attempt failed with `error`.
    func failed(_ error: RedisError, generation: Int) {
        guard generation == self.generation else { return }
        switch self.state {
        case .closed, .waitingToReconnect:
            return
        case .ready(let channel):
            self.logger.warning("Redis connection lost", metadata: ["error": "\(error)"])
            let lost = self.takeInFlight()
            // Reconnect at once; requests made from the failure callbacks
            // wait for it. The new generation ignores the old channel's close.
            self.connect()
            channel.close(promise: nil)
            for entry in lost {
                if case .command(let tracked, let index, _) = entry.slot { self.finish(tracked, index, .failure(error)) }
            }
        case .connecting:
            let channel = self.channel
            self.channel = nil
            let delay = self.backoff.next()
            self.state = .waitingToReconnect(nextAttempt: .now() + delay, error: error)
            channel?.close(promise: nil)
            self.logger.warning("cannot connect to Redis", metadata: [
                "redis.address": "\(self.configuration.host):\(self.configuration.port)",
                "error": "\(error)",
                "retry.ms": "\(delay.nanoseconds / 1_000_000)",
            ])
            _ = self.takeInFlight()  // handshake only: nothing of a caller's was written
            let waiting = self.waiting
            self.waiting.removeAll()
            for tracked in waiting {
                for index in 0..<tracked.commands.count { self.finish(tracked, index, .failure(error)) }
            }
            self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                guard generation == self.generation, case .waitingToReconnect = self.state else { return }
                self.connect()
            }
        }
    }

    private func takeInFlight() -> CircularBuffer<InFlight> {
        let entries = self.inFlight
        self.inFlight.removeAll()
        self.timeoutCheck?.cancel()
        self.timeoutCheck = nil
        return entries
    }

    // MARK: Command timeout

    private func armTimeoutCheck() {
        guard let timeout = self.configuration.commandTimeout, let head = self.inFlight.first else { return }
        let generation = self.generation
        self.timeoutCheck = self.eventLoop.assumeIsolated().scheduleTask(deadline: head.sentAt + timeout) {
            self.timeoutCheck = nil
            guard generation == self.generation, case .ready = self.state, let head = self.inFlight.first else { return }
            if head.sentAt + timeout <= .now() {
                self.failed(RedisError(.timeout, message: "no reply within \(timeout.nanoseconds / 1_000_000) ms"), generation: generation)
            } else {
                self.armTimeoutCheck()
            }
        }
    }

    // MARK: Closing

    /// Closes the connection: fails every request waiting or in flight with
    /// `.closed` (one in flight may or may not have run) and refuses later ones.
    func close() {
        self.eventLoop.preconditionInEventLoop()
        if case .closed = self.state { return }
        self.state = .closed
        self.generation &+= 1
        self.channel?.close(promise: nil)
        self.channel = nil
        let lost = self.takeInFlight()
        let waiting = self.waiting
        self.waiting.removeAll()
        for entry in lost {
            if case .command(let tracked, let index, _) = entry.slot { self.finish(tracked, index, .failure(.closedError)) }
        }
        for tracked in waiting {
            for index in 0..<tracked.commands.count { self.finish(tracked, index, .failure(.closedError)) }
        }
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}
