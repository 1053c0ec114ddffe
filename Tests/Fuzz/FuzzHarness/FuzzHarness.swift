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
/// for the life of the process.
public final class FuzzHarness {
    /// One event loop: the work of an input runs in order on it.
    public let loop: any EventLoop
    /// A client with one connection, so commands complete in the order sent.
    public let redis: RedisClient
    /// Quiet: what the relay logs about refused input is noise here.
    public let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let server: RedisServerProcess?

    /// Connects to (or starts) the Redis server.
    public init() throws {
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        self.logger = logger
        let port: Int
        if let value = ProcessInfo.processInfo.environment["RELAY_FUZZ_REDIS_PORT"], let given = Int(value) {
            port = given
            server = nil
        } else {
            let started = try RedisServerProcess(extraArguments: ["--appendonly", "no"])
            port = started.port
            server = started
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

/// Carries a result from the event loop to the waiting thread (the
/// semaphore orders the write before the read).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
#endif
