import NIOCore
import NIOPosix

/// A device of a pair: the one that sends, or the one that receives.
enum PairSide: String, Sendable, Codable, CaseIterable {
    case sender, recipient
}

/// Everything one `relay-bench pairs` (or `cross-region`) run needs.
struct PairsConfiguration: Sendable {
    /// Where the sending devices connect.
    var host: String
    var port: Int
    /// Where the receiving devices connect: the senders' relay for `pairs`,
    /// another region's for `cross-region`.
    var recipientHost: String
    var recipientPort: Int
    /// Whose user id sorts first in each 1:1 conversation id, and so whose
    /// home region sequences the conversation.
    var firstUser = PairSide.sender
    /// At a target rate: pair i sends its first message i/N of a send
    /// interval after a phase starts, so that the pairs' sends spread over
    /// each interval instead of leaving together in bursts of N.
    var staggered = false
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
/// one receiving device each. The senders may be served by one region and
/// the recipients by another (`cross-region`).
enum PairsRunner {
    /// Runs the scenario with every device on one relay and one token issuer.
    static func run(_ configuration: PairsConfiguration, tokens: DeviceTokens) async throws -> PairsResult {
        try await run(configuration, senderTokens: tokens, recipientTokens: tokens) {}.result
    }

    /// Runs the scenario; `alongside` runs while the measured phase does
    /// (from its start until every pair has drained), is cancelled then,
    /// and what it returns comes back with the result.
    static func run<Alongside: Sendable>(
        _ configuration: PairsConfiguration, senderTokens: DeviceTokens, recipientTokens: DeviceTokens,
        alongside: @escaping @Sendable () async -> Alongside
    ) async throws -> (result: PairsResult, alongside: Alongside) {
        let runID = ChatBenchOptions.makeRunID()
        // Users a<i> sort before b<i>: the first user is the one named a.
        let (senderLetter, recipientLetter) = configuration.firstUser == .sender ? ("a", "b") : ("b", "a")
        var senders: [(user: String, device: String)] = []
        var recipients: [(user: String, device: String)] = []
        for i in 0..<configuration.pairs {
            senders.append(("p\(runID)\(senderLetter)\(i)", "p\(runID)\(senderLetter)\(i)-d"))
            recipients.append(("p\(runID)\(recipientLetter)\(i)", "p\(runID)\(recipientLetter)\(i)-d"))
        }
        let identities = Array(zip(
            try await senderTokens.identities(senders), try await recipientTokens.identities(recipients)
        ))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            let result = try await run(configuration, identities: identities, runID: runID, on: group, alongside: alongside)
            try? await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run<Alongside: Sendable>(
        _ configuration: PairsConfiguration, identities: [(sender: ChatDeviceIdentity, recipient: ChatDeviceIdentity)],
        runID: String, on group: any EventLoopGroup, alongside: @escaping @Sendable () async -> Alongside
    ) async throws -> (result: PairsResult, alongside: Alongside) {
        var drivers: [(box: NIOLoopBoundBox<ChatPairDriver>, ready: EventLoopFuture<Void>)] = []
        var channels: [(channel: EventLoopFuture<any Channel>, endpoint: String)] = []
        for (i, (a, b)) in identities.enumerated() {
            let loop = group.next()
            let ready = loop.makePromise(of: Void.self)
            let conversation = [a.user, b.user].sorted().joined(separator: "~")
            let box = NIOLoopBoundBox.makeBoxSendingValue(
                ChatPairDriver(index: i, conversation: conversation, payloadSize: configuration.payloadSize,
                               window: configuration.window, loop: loop, ready: ready),
                eventLoop: loop
            )
            drivers.append((box, ready.futureResult))
            let devices = [(1, b, configuration.recipientHost, configuration.recipientPort),
                           (0, a, configuration.host, configuration.port)]  // the receiver first
            for (role, identity, host, port) in devices {
                let options = configuration.device
                let source = configuration.sources.isEmpty ? nil : configuration.sources[(2 * i + role) % configuration.sources.count]
                channels.append((ChatDeviceConnector.connect(
                    host: host, port: port, source: source,
                    timeout: configuration.setupTimeout, on: loop
                ) {
                    let handler = ChatDeviceHandler(identity: identity, options: options, index: role, delegate: box.value)
                    box.value.attach(handler)
                    return handler
                }, "\(host):\(port)"))
            }
            loop.scheduleTask(in: configuration.setupTimeout) { box.value.setupDeadlinePassed() }
        }

        func closeAll() async {
            for d in drivers { d.box.eventLoop.execute { d.box.value.close() } }
            for (channel, _) in channels {
                guard let channel = try? await channel.get() else { continue }
                let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
                try? await channel.closeFuture.get()
                deadline.cancel()
            }
        }

        do {
            for (channel, endpoint) in channels {
                do { _ = try await channel.get() } catch {
                    throw BenchError(.connectionFailed, "cannot connect to \(endpoint): \(error)")
                }
            }
            for d in drivers { try await d.ready.get() }
            let probes = drivers.map { d in
                d.box.eventLoop.flatSubmit {
                    d.box.value.startProbe(retryInterval: .milliseconds(100), timeout: configuration.setupTimeout)
                }
            }
            for probe in probes { try await probe.get() }
            if configuration.warmup > .zero {
                _ = try await phase(drivers.map(\.box), configuration.warmup, configuration)
            }
            let cpuBefore = processCPUSeconds()
            let sidekick = Task { await alongside() }
            let outcomes: [PairOutcome]
            do {
                outcomes = try await phase(drivers.map(\.box), configuration.duration, configuration)
            } catch {
                sidekick.cancel()
                throw error
            }
            let cpu = processCPUSeconds() - cpuBefore
            sidekick.cancel()
            let sideResult = await sidekick.value
            await closeAll()
            return (PairsResult(outcomes, configuration: configuration, runID: runID, cpuSeconds: cpu), sideResult)
        } catch {
            await closeAll()
            throw error
        }
    }

    /// Every pair sends for `duration` at its share of the rate, then drains.
    private static func phase(
        _ drivers: [NIOLoopBoundBox<ChatPairDriver>], _ duration: TimeAmount, _ configuration: PairsConfiguration
    ) async throws -> [PairOutcome] {
        let rate = configuration.rate / Double(configuration.pairs)
        let futures = drivers.enumerated().map { i, box in
            let offset = configuration.staggered && rate > 0
                ? TimeAmount.nanoseconds(Int64(Double(i) / Double(drivers.count) / rate * 1e9)) : .zero
            return box.eventLoop.flatSubmit {
                box.value.startPhase(duration: duration, rate: rate, offset: offset, drainTimeout: configuration.drainTimeout)
            }
        }
        var outcomes: [PairOutcome] = []
        for future in futures { outcomes.append(try await future.get()) }
        return outcomes
    }
}
