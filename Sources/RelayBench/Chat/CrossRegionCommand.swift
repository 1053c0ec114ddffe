import ArgumentParser

extension PairSide: ExpressibleByArgument {}

/// `relay-bench cross-region`: 1:1 conversations whose two devices are
/// served by two regions, with the replication lag between them.
public struct CrossRegionCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cross-region",
        abstract: "N 1:1 conversations across two regions: delivery latency and replication lag.",
        discussion: """
            Like pairs, but sender a<i> connects to --host/--port with a token homed in --home and \
            recipient b<i> to --to-host/--to-port homed in --to-home, so every message crosses the \
            link between the regions. --sequenced-at picks the user names so that the conversation's \
            home (the first user of its id) is the sender's region (its message is sequenced there \
            and replicated) or the recipient's (the send is forwarded there first). Before measuring, \
            each pair gets one message through, retrying while the sender's region does not yet know \
            the conversation's home. The pairs' sends are staggered over each send interval, so the \
            link sees a steady stream rather than bursts of --pairs messages. During the measured phase every --metrics endpoint's \
            relay_replication_lag_seconds and relay_replication_outbox_frames are sampled every 100 ms. \
            --rate is required, and per device it must stay under the regions' sendsPerSecond \
            (--device-rate-limit) or sends are refused. \
            Exits 1 on loss, refusals, reordering or a timeout; 2 when the run could not be set up.
            """
    )

    @OptionGroup var common: ChatBenchOptions

    @Option(help: "The recipients' relay host.")
    var toHost = "127.0.0.1"

    @Option(help: "The recipients' relay MQTT port.")
    var toPort: Int

    @Option(help: "The recipients' region name: their home in their tokens.")
    var toHome: String

    @Option(help: "Whose region sequences each conversation: sender or recipient.")
    var sequencedAt = PairSide.sender

    @OptionGroup var traffic: PairsOptions

    @Option(help: "Messages per second over all pairs (required, positive).")
    var rate: Double

    @Option(help: "The regions' sendsPerSecond: --rate / --pairs must stay below it.")
    var deviceRateLimit: Double = 20

    @Option(help: "[NAME=]HOST:PORT of a region's HTTP endpoint to sample replication lag from (repeatable).")
    var metrics: [String] = []

    @Option(help: "The link's round-trip time in ms, as configured on its delay proxies; only carried into the output.")
    var rttMs: Double?

    public init() {}

    public func validate() throws {
        guard (1...65_535).contains(toPort) else { throw ValidationError("--to-port must be 1...65535") }
        guard !toHome.isEmpty else { throw ValidationError("--to-home must name a region") }
        guard rate > 0 else { throw ValidationError("--rate must be positive: cross-region measures latency at a target rate") }
        guard deviceRateLimit > 0 else { throw ValidationError("--device-rate-limit must be positive") }
        let perDevice = rate / Double(max(1, traffic.pairs))
        guard perDevice < deviceRateLimit else {
            throw ValidationError(
                "--rate \(rate) over \(traffic.pairs) pairs is \(perDevice) sends/s per device, not under the regions' "
                    + "limit of \(deviceRateLimit) (sendsPerSecond; --device-rate-limit): sends would be refused. "
                    + "Lower --rate or raise --pairs.")
        }
        guard rttMs.map({ $0 >= 0 }) ?? true else { throw ValidationError("--rtt-ms must not be negative") }
        for m in metrics where MetricsTarget(argument: m) == nil {
            throw ValidationError("--metrics \(m): expected [NAME=]HOST:PORT")
        }
    }

    public func run() async throws {
        let pairsConfiguration = try traffic.configuration(
            common, rate: rate, recipient: (toHost, toPort), firstUser: sequencedAt, staggered: true
        )
        let route = CrossRegionRoute(from: common.home, to: toHome, sequencedAt: sequencedAt, rttMs: rttMs)
        let targets = metrics.compactMap(MetricsTarget.init(argument:))
        let tokens = try common.tokens()
        try await common.report {
            try await CrossRegionRunner.run(
                pairsConfiguration, route: route, metrics: targets,
                senderTokens: tokens, recipientTokens: tokens.homed(in: toHome)
            )
        }
    }
}
