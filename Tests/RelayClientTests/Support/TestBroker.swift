import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real mosquitto broker on a free loopback port, for tests.
///
/// `start()` waits (bounded) until the port accepts connections; `stop()`
/// terminates it and waits (bounded) for it to exit; `restart()` starts it
/// again on the same port.
final class TestBroker: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test that owns the broker, one call at a time.
    let port: Int
    let directory: URL
    private var process: Process?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init() throws {
        port = try TestBroker.freePort()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-client-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = """
        listener \(port) 127.0.0.1
        allow_anonymous true
        persistence false
        log_dest stderr
        log_type error
        """
        try config.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
    }

    deinit {
        if let process { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts mosquitto and waits until it accepts TCP connections (at most `timeout`).
    func start(timeout: Duration = .seconds(10)) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        process.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw Failure(description: "mosquitto exited with \(process.terminationStatus)") }
            if TestBroker.canConnect(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure(description: "mosquitto did not listen on \(port) within \(timeout)")
    }

    /// Kills mosquitto (SIGKILL: a crash, and SIGTERM may be blocked in the
    /// signal mask a test runner's child inherits) and waits until it has
    /// exited (at most `timeout`).
    func stop(timeout: Duration = .seconds(10)) async throws {
        guard let process else { return }
        self.process = nil
        kill(process.processIdentifier, SIGKILL)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                throw Failure(description: "mosquitto did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Freezes mosquitto (SIGSTOP): connections stay open, nothing is answered.
    func pause() {
        if let process { kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a paused mosquitto run again (SIGCONT).
    func resume() {
        if let process { kill(process.processIdentifier, SIGCONT) }
    }

    /// Stops and starts again on the same port.
    func restart() async throws {
        try await stop()
        try await start()
    }

    /// A port that was free a moment ago (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
