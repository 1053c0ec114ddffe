import Foundation
import Logging
import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore

#if DEBUG || RELAY_FUZZ
@testable import MQTTServer

/// What the fuzz targets that run against a real Redis share: the server,
/// one event loop, a client, and a way to wait for the work an input
/// started.
///
/// The Redis server is the one at `RELAY_FUZZ_REDIS_PORT` on 127.0.0.1
/// (scripts/fuzz starts it, without persistence), or else one started here
/// for the life of the process (see ``OwnRedis``).
public final class FuzzHarness {
    /// One event loop: the work of an input runs in order on it.
    public let loop: any EventLoop
    /// A client with one connection, so commands complete in the order sent.
    public let redis: RedisClient
    /// Quiet: what the relay logs about refused input is noise here.
    public let logger: Logger
    private let group: MultiThreadedEventLoopGroup

    /// Connects to (or starts) the Redis server.
    public init() throws {
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        self.logger = logger
        let port: Int
        if let value = ProcessInfo.processInfo.environment["RELAY_FUZZ_REDIS_PORT"], let given = Int(value) {
            port = given
        } else {
            port = try OwnRedis.start()
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        var configuration = RedisConfiguration(host: "127.0.0.1", port: port)
        configuration.connectionCount = 1
        configuration.commandTimeout = .seconds(10)
        redis = RedisClient(configuration: configuration, logger: logger)
    }

    /// The value of `future`; traps if it does not complete within
    /// `seconds` (a hang is a finding too).
    public func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Int = 10, _ what: String = "operation") -> Result<T, any Error> {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        future.whenComplete { result in
            box.result = result
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(seconds)) == .success else {
            fatalError("\(what) did not complete in \(seconds) s")
        }
        return box.result!
    }

    /// Waits for the work an input started and left running (fan-out,
    /// answers, pumps): `rounds` times, a Redis PING after everything sent
    /// before it, and a turn of the event loop for the callbacks it woke.
    /// Chains of Redis calls shorter than `rounds` have finished after it,
    /// so a crash they cause is blamed on the input that caused it.
    public func settle(rounds: Int = 8) {
        for _ in 0..<rounds {
            _ = wait(redis.send(RedisCommand("PING"), on: loop), "PING")
            _ = wait(loop.submit {}, "a turn of the event loop")
        }
    }

    /// Empties the database.
    public func flush() {
        if case .failure(let error) = wait(redis.send(RedisCommand("FLUSHALL"), on: loop), "FLUSHALL") {
            fatalError("FLUSHALL failed: \(error)")
        }
    }

    /// A session as the relay sees a device's: it has the principal
    /// `principal` and is stored, not connected (deliveries queue in it, up
    /// to a small limit).
    public func session(clientIdentifier: String, principal: MQTTPrincipal) -> MQTTSession {
        let (loop, logger) = (self.loop, self.logger)
        let made = loop.submit { () -> MQTTSession in
            let context = ServerContext(configuration: MQTTServerConfiguration(), router: InMemoryRouter(),
                                        authenticator: AllowAllAuthenticator(), logger: logger)
            let link = ConnectionLink(MQTTConnectionHandler(server: context), eventLoop: loop)
            let session = MQTTSession(clientIdentifier: clientIdentifier, principal: principal, link: link,
                                      limits: MQTTSession.Limits(maximumQueuedMessages: 64))
            _ = session.detach(link, state: SessionState())
            return session
        }
        switch wait(made, "making a session") {
        case .success(let session): return session
        case .failure(let error): fatalError("cannot make a session: \(error)")
        }
    }
}

/// A redis-server of this process's own, killed when the process exits or
/// traps (a regression run replaying a crashing input would otherwise leave
/// it running). libFuzzer replaces these signal handlers with its own:
/// fuzzing runs get their server from scripts/fuzz instead.
enum OwnRedis {
    /// The server's process id, read by the exit and signal handlers.
    nonisolated(unsafe) private static var pid: pid_t = 0
    /// The handlers that were there before, run after the server is killed.
    nonisolated(unsafe) private static let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
    private static let traps = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE]

    /// Starts the server on a free loopback port, without persistence, and
    /// waits (at most 10 s) until it answers PING.
    static func start() throws -> Int {
        let port = try RedisServerProcess.freeLoopbackPort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RedisServerProcess.executable)
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory.path, "--daemonize", "no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        atexit { OwnRedis.stop() }
        previous.initialize(repeating: sigaction(), count: 64)
        for signal in traps {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                OwnRedis.stop()
                // Back to the handler before (the Swift runtime's backtracer);
                // the trapping instruction runs again and reaches it.
                sigaction(number, OwnRedis.previous + Int(number), nil)
            }
            sigaction(signal, &action, previous + Int(signal))
        }
        let deadline = NIODeadline.now() + .seconds(10)
        while NIODeadline.now() < deadline {
            if RedisServerProcess.answersPing(port: port) { return port }
            usleep(20_000)
        }
        stop()
        throw StartError(description: "redis-server on port \(port) did not answer PING in 10 s")
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// Kills the server (async-signal-safe).
    static func stop() {
        if pid > 0 { kill(pid, SIGKILL) }
    }
}

/// Carries a result from the event loop to the waiting thread (the
/// semaphore orders the write before the read).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
#endif
