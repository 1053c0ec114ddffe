import NIOCore
import NIOPosix

/// Everything one `relay-bench pairs` run needs.
struct PairsConfiguration: Sendable {
    var host: String
    var port: Int
    var pairs: Int
    /// Messages per second over all pairs; 0 for as fast as the windows allow.
    var rate: Double
    /// Per pair: messages sent and not yet delivered.
    var window: Int
    var payloadSize: Int
    var duration: TimeAmount
    var warmup: TimeAmount
    var drainTimeout: TimeAmount
    var device: ChatDeviceOptions
    var threads: Int
    var setupTimeout: TimeAmount
    var sources: [SocketAddress]
    var label: String?
}

/// Runs the `pairs` scenario: N 1:1 conversations, one sending device and
/// one receiving device each.
enum PairsRunner {
    static func run(_ configuration: PairsConfiguration, tokens: DeviceTokens) async throws -> PairsResult {
        let runID = ChatBenchOptions.makeRunID()
        var devices: [(user: String, device: String)] = []
        for i in 0..<configuration.pairs {
            devices.append(("p\(runID)a\(i)", "p\(runID)a\(i)-d"))
            devices.append(("p\(runID)b\(i)", "p\(runID)b\(i)-d"))
        }
        let identities = try await tokens.identities(devices)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            let result = try await run(configuration, identities: identities, runID: runID, on: group)
            try? await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(
        _ configuration: PairsConfiguration, identities: [ChatDeviceIdentity], runID: String, on group: any EventLoopGroup
    ) async throws -> PairsResult {
        var drivers: [(box: NIOLoopBoundBox<ChatPairDriver>, ready: EventLoopFuture<Void>)] = []
        var channels: [EventLoopFuture<any Channel>] = []
        let perPairRate = configuration.rate / Double(configuration.pairs)
        for i in 0..<configuration.pairs {
            let loop = group.next()
            let ready = loop.makePromise(of: Void.self)
            let (a, b) = (identities[2 * i], identities[2 * i + 1])
            let conversation = [a.user, b.user].sorted().joined(separator: "~")
            let box = NIOLoopBoundBox.makeBoxSendingValue(
                ChatPairDriver(index: i, conversation: conversation, payloadSize: configuration.payloadSize,
                               window: configuration.window, loop: loop, ready: ready),
                eventLoop: loop
            )
            drivers.append((box, ready.futureResult))
            for (role, identity) in [(1, b), (0, a)] {  // the receiver first
                let options = configuration.device
                let source = configuration.sources.isEmpty ? nil : configuration.sources[(2 * i + role) % configuration.sources.count]
                channels.append(ChatDeviceConnector.connect(
                    host: configuration.host, port: configuration.port, source: source,
                    timeout: configuration.setupTimeout, on: loop
                ) {
                    let handler = ChatDeviceHandler(identity: identity, options: options, index: role, delegate: box.value)
                    box.value.attach(handler)
                    return handler
                })
            }
            loop.scheduleTask(in: configuration.setupTimeout) { box.value.setupDeadlinePassed() }
        }

        func closeAll() async {
            for d in drivers { d.box.eventLoop.execute { d.box.value.close() } }
            for channel in channels {
                guard let channel = try? await channel.get() else { continue }
                let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
                try? await channel.closeFuture.get()
                deadline.cancel()
            }
        }

        do {
            for channel in channels {
                do { _ = try await channel.get() } catch {
                    throw BenchError(.connectionFailed, "cannot connect to \(configuration.host):\(configuration.port): \(error)")
                }
            }
            for d in drivers { try await d.ready.get() }
            if configuration.warmup > .zero {
                _ = try await phase(drivers.map(\.box), duration: configuration.warmup, rate: perPairRate, drain: configuration.drainTimeout)
            }
            let cpuBefore = processCPUSeconds()
            let outcomes = try await phase(drivers.map(\.box), duration: configuration.duration, rate: perPairRate, drain: configuration.drainTimeout)
            let cpu = processCPUSeconds() - cpuBefore
            await closeAll()
            return PairsResult(outcomes, configuration: configuration, runID: runID, cpuSeconds: cpu)
        } catch {
            await closeAll()
            throw error
        }
    }

    private static func phase(
        _ drivers: [NIOLoopBoundBox<ChatPairDriver>], duration: TimeAmount, rate: Double, drain: TimeAmount
    ) async throws -> [PairOutcome] {
        let futures = drivers.map { box in
            box.eventLoop.flatSubmit { box.value.startPhase(duration: duration, rate: rate, drainTimeout: drain) }
        }
        var outcomes: [PairOutcome] = []
        for future in futures { outcomes.append(try await future.get()) }
        return outcomes
    }
}
