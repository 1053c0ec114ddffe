import Foundation
import NIOCore
import RelayStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` on a free loopback port, with its files in a
/// temporary folder (AOF on, `appendfsync always`), for one test. Shared by
/// the test targets that need a real Redis (RelayStoreTests, RelayTests).
public final class RedisServerProcess {
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its data folder, removed when the process object goes away.
    public let directory: URL
    /// Extra `redis-server` arguments.
    public let extraArguments: [String]
    private var process: Process?

    /// Debian's redis-server.
    public static let executable = "/usr/bin/redis-server"

    /// Starts a server and waits (bounded) until it answers PING.
    public init(extraArguments: [String] = []) throws {
        self.extraArguments = extraArguments
        self.port = try Self.freeLoopbackPort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("relaystore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        try self.start()
    }

    deinit {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// A client configuration for this server, with short timeouts.
    public var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: self.port)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = .seconds(5)
        configuration.minimumReconnectDelay = .milliseconds(20)
        configuration.maximumReconnectDelay = .milliseconds(200)
        return configuration
    }

    /// Starts (or restarts) the server on the same port and folder.
    /// Starts (or restarts) the server on its port and data folder.
    public func start() throws {
        precondition(self.process == nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = [
            "--port", String(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", self.directory.path,
            "--logfile", self.directory.appendingPathComponent("redis.log").path,
            "--daemonize", "no",
        ] + self.extraArguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try self.waitForPing(deadline: .now() + .seconds(10))
    }

    /// Whether the server process runs.
    public var isRunning: Bool { self.process?.isRunning == true }

    /// The server's process id while it runs.
    public var processIdentifier: Int32? { self.process?.processIdentifier }

    /// SIGKILLs the server and reaps it.
    /// Stops the server at once (SIGKILL).
    public func kill() {
        guard let process = self.process else { return }
        self.process = nil
        if process.isRunning {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    private func waitForPing(deadline: NIODeadline) throws {
        var lastError = "no attempt"
        while NIODeadline.now() < deadline {
            guard self.process?.isRunning == true else { break }
            // "+PONG", or "-NOAUTH" when it is up with a password.
            switch Self.ping(port: self.port, timeout: 200_000) {
            case .success(let reply) where reply.hasPrefix("+PONG") || reply.hasPrefix("-NOAUTH"): return
            case .success(let reply): lastError = "reply \(reply)"
            case .failure(let error): lastError = error.message
            }
            usleep(20_000)
        }
        throw ServerStartError(message: "redis-server on port \(self.port) did not answer PING: \(lastError)")
    }

    /// Whether a Redis on loopback `port` answers an inline PING with PONG
    /// (a blocking check with 200 ms timeouts, for starting servers).
    public static func answersPing(port: Int) -> Bool {
        guard case .success(let reply) = ping(port: port, timeout: 200_000) else { return false }
        return reply.hasPrefix("+PONG")
    }

    /// Sends an inline PING over a blocking loopback socket (`timeout`
    /// microseconds per send and receive) and returns what came back.
    private static func ping(port: Int, timeout microseconds: Int) -> Result<String, ServerStartError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(ServerStartError(message: "socket failed")) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: .init(microseconds))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return .failure(ServerStartError(message: "connect: errno \(errno)")) }
        let request = Array("PING\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return .failure(ServerStartError(message: "send failed")) }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &reply, reply.count, 0)
        guard count > 0 else { return .failure(ServerStartError(message: "no reply")) }
        return .success(String(decoding: reply.prefix(count), as: UTF8.self))
    }

    /// The server did not come up.
    public struct ServerStartError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { self.message }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerStartError(message: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw ServerStartError(message: "bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw ServerStartError(message: "getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs `body` and fails if it takes longer than `timeout`.
public func withTimeout<T: Sendable>(
    _ timeout: Duration = .seconds(10),
    _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimeoutError(what: what, timeout: timeout)
        }
        return value
    }
}

/// A bounded wait ran out.
public struct TimeoutError: Error, CustomStringConvertible {
    public var what: String
    public var timeout: Duration
    public var description: String { "\(self.what) did not finish within \(self.timeout)" }

    /// `what` did not finish within `timeout`.
    public init(what: String, timeout: Duration) {
        self.what = what
        self.timeout = timeout
    }
}

/// Retries `body` until it succeeds or `timeout` passes (for waiting on
/// reconnection, where there is no event to wait for).
public func eventually<T: Sendable>(
    _ what: String,
    timeout: Duration = .seconds(10),
    _ body: @Sendable () async throws -> T?
) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var lastError: (any Error)? = nil
    while clock.now < deadline {
        do {
            if let value = try await body() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TimeoutError(what: "\(what) (last error: \(String(describing: lastError)))", timeout: timeout)
}
