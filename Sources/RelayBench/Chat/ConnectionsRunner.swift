import MQTT
import NIOCore
import NIOPosix

/// Everything one `relay-bench connections` run needs.
struct ConnectionsConfiguration: Sendable {
    var host: String
    var port: Int
    var sessions: Int
    var concurrency: Int
    var device: ChatDeviceOptions
    var threads: Int
    var setupTimeout: TimeAmount
    /// After the last SUBACK, wait this long before reading memory, so
    /// the relay's connection-time buffers are released.
    var settle: TimeAmount
    var relayPID: Int32?
    var redisPID: Int32?
    var sources: [SocketAddress]
    var label: String?
}

/// Runs the `connections` scenario: N idle devices connected and
/// subscribed to one relay; the connect rate and the relay's (and Redis's)
/// resident memory per session.
enum ConnectionsRunner {
    struct State: Sendable {
        var ready = 0
    }

    final class Observer: FleetObserver {
        let state = WatchedState(State())
        func deviceReady(_ index: Int) { state.update { $0.ready += 1 } }
        func device(_ index: Int, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64) {}
        func device(_ index: Int, acknowledged packetIdentifier: UInt16, at now: UInt64) {}
        func device(_ index: Int, ended error: BenchError?) {
            if let error { state.fail(error) }
        }
    }

    static func run(_ configuration: ConnectionsConfiguration, tokens: DeviceTokens) async throws -> ConnectionsResult {
        let runID = ChatBenchOptions.makeRunID()
        let identities = try await tokens.identities((0..<configuration.sessions).map { ("c\(runID)u\($0)", "c\(runID)u\($0)-d") })
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let observer = Observer()
        let fleet = DeviceFleet(group: group, options: configuration.device, observer: observer)
        func memory(_ pid: Int32?) -> Int? { pid.flatMap { ProcessMemory.residentBytes(pid: $0) } }
        do {
            let relayBefore = memory(configuration.relayPID), redisBefore = memory(configuration.redisPID)
            let start = NIODeadline.now()
            try await fleet.connect(
                identities, host: configuration.host, port: configuration.port, sources: configuration.sources,
                concurrency: configuration.concurrency, timeout: configuration.setupTimeout
            ) { _ in }
            try await observer.state.wait(for: "every session connected and subscribed", timeout: configuration.setupTimeout - (.now() - start)) {
                $0.ready == identities.count
            }
            let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
            try await Task.sleep(nanoseconds: UInt64(configuration.settle.nanoseconds))
            let relayAfter = memory(configuration.relayPID), redisAfter = memory(configuration.redisPID)
            await fleet.close()
            try? await group.shutdownGracefully()
            func perSession(_ before: Int?, _ after: Int?) -> Double? {
                guard let before, let after else { return nil }
                return Double(after - before) / Double(configuration.sessions)
            }
            return ConnectionsResult(
                label: configuration.label, runID: runID, host: configuration.host, port: configuration.port,
                protocolVersion: configuration.device.version == .v5 ? "5" : "3.1.1",
                sessions: configuration.sessions, concurrency: configuration.concurrency, threads: configuration.threads,
                connectSeconds: seconds, connectsPerSecond: Double(configuration.sessions) / seconds,
                relayRSSBefore: relayBefore, relayRSSAfter: relayAfter,
                relayBytesPerSession: perSession(relayBefore, relayAfter),
                redisRSSBefore: redisBefore, redisRSSAfter: redisAfter,
                redisBytesPerSession: perSession(redisBefore, redisAfter)
            )
        } catch {
            await fleet.close()
            try? await group.shutdownGracefully()
            throw error
        }
    }
}
