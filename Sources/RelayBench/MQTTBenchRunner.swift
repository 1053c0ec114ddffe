import MQTT
import NIOCore
import NIOPosix

/// Runs the `mqtt` scenario: P publisher and P subscriber connections, one
/// topic per pair, publishing as fast as the window allows.
public enum MQTTBenchRunner {
    /// Connects, subscribes, warms up, measures, disconnects. Every wait is
    /// bounded by the configuration's timeouts. Throws when setup fails or a
    /// connection drops; a phase that runs out of time is reported in the
    /// result (`timedOut`), not thrown.
    public static func run(_ configuration: MQTTBenchConfiguration) async throws -> MQTTBenchResult {
        try configuration.validate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            let result = try await run(configuration, on: group)
            try? await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(_ configuration: MQTTBenchConfiguration, on group: EventLoopGroup) async throws -> MQTTBenchResult {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var pairs: [(box: NIOLoopBoundBox<BenchPair>, ready: EventLoopFuture<Void>)] = []
        var channels: [EventLoopFuture<Channel>] = []
        for index in 0..<configuration.pairs {
            // Both connections of a pair share one loop, so the pair needs no locks.
            let loop = group.next()
            let ready = loop.makePromise(of: Void.self)
            let box = NIOLoopBoundBox.makeBoxSendingValue(
                BenchPair(index: index, runID: runID, configuration: configuration, eventLoop: loop, ready: ready),
                eventLoop: loop
            )
            pairs.append((box, ready.futureResult))
            // Subscriber first, so it is subscribed before its publisher is told to start.
            channels.append(connect(.subscriber, box: box, loop: loop, configuration: configuration))
            channels.append(connect(.publisher, box: box, loop: loop, configuration: configuration))
            loop.scheduleTask(in: configuration.setupTimeout) { box.value.setupDeadlinePassed() }
        }

        do {
            for channel in channels {
                do {
                    _ = try await channel.get()
                } catch {
                    throw BenchError(.connectionFailed, "cannot connect to \(configuration.host):\(configuration.port): \(error)")
                }
            }
            for pair in pairs { try await pair.ready.get() }
        } catch {
            await close(pairs.map(\.box), channels: channels)
            throw error
        }

        do {
            if configuration.warmup > .zero {
                _ = try await runPhase(pairs.map(\.box), messageLimit: nil, duration: configuration.warmup)
            }
            let cpuBefore = processCPUSeconds()
            let outcomes: [PhaseOutcome]
            switch configuration.load {
            case .messages(let n):
                outcomes = try await runPhase(pairs.map(\.box), messageLimit: UInt64(n), duration: nil)
            case .duration(let d):
                outcomes = try await runPhase(pairs.map(\.box), messageLimit: nil, duration: d)
            }
            let cpu = processCPUSeconds() - cpuBefore
            await close(pairs.map(\.box), channels: channels)
            return summarize(outcomes, configuration: configuration, runID: runID, cpuSeconds: cpu)
        } catch {
            await close(pairs.map(\.box), channels: channels)
            throw error
        }
    }

    private static func connect(
        _ role: BenchConnectionHandler.Role,
        box: NIOLoopBoundBox<BenchPair>,
        loop: EventLoop,
        configuration: MQTTBenchConfiguration
    ) -> EventLoopFuture<Channel> {
        let version = configuration.protocolVersion
        return ClientBootstrap(group: loop)
            .connectTimeout(configuration.setupTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = BenchConnectionHandler(role: role, pair: box.value, version: version)
                    box.value.attach(handler)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
    }

    /// Starts a phase on every pair at once and waits for all of them.
    private static func runPhase(
        _ pairs: [NIOLoopBoundBox<BenchPair>], messageLimit: UInt64?, duration: TimeAmount?
    ) async throws -> [PhaseOutcome] {
        let futures = pairs.map { box in
            box.eventLoop.flatSubmit { box.value.startPhase(messageLimit: messageLimit, duration: duration) }
        }
        var outcomes: [PhaseOutcome] = []
        for future in futures { outcomes.append(try await future.get()) }
        return outcomes
    }

    /// DISCONNECTs every connection and waits (bounded) for them to close.
    private static func close(_ pairs: [NIOLoopBoundBox<BenchPair>], channels: [EventLoopFuture<Channel>]) async {
        for box in pairs {
            box.eventLoop.execute { box.value.close() }
        }
        for future in channels {
            guard let channel = try? await future.get() else { continue }
            let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
            deadline.cancel()
        }
    }

    static func summarize(
        _ outcomes: [PhaseOutcome], configuration: MQTTBenchConfiguration, runID: String, cpuSeconds: Double
    ) -> MQTTBenchResult {
        var latency = LatencyHistogram()
        var sent: UInt64 = 0, received: UInt64 = 0, outOfOrder: UInt64 = 0
        var unacknowledged: UInt64 = 0, anomalies: UInt64 = 0, lost: UInt64 = 0
        var start = UInt64.max, end: UInt64 = 0
        var timedOut = false
        var window = configuration.inflight
        for o in outcomes {
            latency.merge(o.latency)
            sent += o.sent
            received += o.received
            lost += o.sent > o.received ? o.sent - o.received : 0
            outOfOrder += o.outOfOrder
            unacknowledged += o.unacknowledged
            anomalies += o.stale + o.malformed + o.unexpectedAcks
            start = min(start, o.startedAt)
            end = max(end, o.received > 0 ? o.lastReceivedAt : o.stoppedAt)
            timedOut = timedOut || o.timedOut
            window = min(window, o.window)
        }
        let duration = end > start ? Double(end - start) / 1e9 : 0
        func micros(_ ns: UInt64) -> Double { Double(ns) / 1000 }
        let version: String = configuration.protocolVersion == .v5 ? "5" : "3.1.1"
        return MQTTBenchResult(
            label: configuration.label,
            runID: runID,
            host: configuration.host,
            port: configuration.port,
            protocolVersion: version,
            pairs: configuration.pairs,
            qos: Int(configuration.qos.rawValue),
            payloadBytes: configuration.payloadSize,
            inflight: configuration.inflight,
            effectiveInflight: window,
            threads: configuration.threads,
            warmupSeconds: Double(configuration.warmup.nanoseconds) / 1e9,
            sent: sent,
            received: received,
            lost: lost,
            outOfOrder: outOfOrder,
            unacknowledged: unacknowledged,
            anomalies: anomalies,
            durationSeconds: duration,
            messagesPerSecond: duration > 0 ? Double(received) / duration : 0,
            latencyMicros: .init(
                min: micros(latency.count > 0 ? latency.min : 0),
                mean: latency.mean / 1000,
                p50: micros(latency.value(atPercentile: 50)),
                p99: micros(latency.value(atPercentile: 99)),
                p999: micros(latency.value(atPercentile: 99.9)),
                max: micros(latency.max)
            ),
            clientCPUSeconds: cpuSeconds,
            clientCPUPercent: duration > 0 ? cpuSeconds / duration * 100 : 0,
            timedOut: timedOut
        )
    }
}
