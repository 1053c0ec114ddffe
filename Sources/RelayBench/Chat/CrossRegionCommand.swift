import ArgumentParser
import NIOCore

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
            the conversation's home. During the measured phase every --metrics endpoint's \
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

    @Option(help: "Conversations (2 devices each).")
    var pairs = 10

    @Option(help: "Messages per second over all pairs (required, positive).")
    var rate: Double

    @Option(help: "The regions' sendsPerSecond: --rate / --pairs must stay below it.")
    var deviceRateLimit: Double = 20

    @Option(help: "Per pair: messages sent and not yet delivered.")
    var window = 64

    @Option(help: "Ciphertext bytes per message (at least 16).")
    var payload = 64

    @Option(help: "Seconds to send.")
    var duration: Double = 10

    @Option(help: "Seconds to send before measuring; discarded.")
    var warmup: Double = 1

    @Option(help: "Seconds allowed after sending stops for every message to arrive.")
    var drainTimeout: Double = 30

    @Option(name: .customLong("protocol"), help: "MQTT version: 3.1.1 or 5.")
    var protocolVersion = "5"

    @Flag(help: "MQTT 5 without topic aliases.")
    var noTopicAliases = false

    @Option(help: "[NAME=]HOST:PORT of a region's HTTP endpoint to sample replication lag from (repeatable).")
    var metrics: [String] = []

    @Option(help: "The link's round-trip time in ms, as configured on its delay proxies; only carried into the output.")
    var rttMs: Double?

    public init() {}

    public func validate() throws {
        guard (1...65_535).contains(toPort) else { throw ValidationError("--to-port must be 1...65535") }
        guard !toHome.isEmpty else { throw ValidationError("--to-home must name a region") }
        guard (1...50_000).contains(pairs) else { throw ValidationError("--pairs must be 1...50000") }
        guard rate > 0 else { throw ValidationError("--rate must be positive: cross-region measures latency at a target rate") }
        guard deviceRateLimit > 0 else { throw ValidationError("--device-rate-limit must be positive") }
        guard rate / Double(pairs) < deviceRateLimit else {
            throw ValidationError(
                "--rate \(rate) over \(pairs) pairs is \(rate / Double(pairs)) sends/s per device, not under the regions' "
                    + "limit of \(deviceRateLimit) (sendsPerSecond; --device-rate-limit): sends would be refused. "
                    + "Lower --rate or raise --pairs.")
        }
        guard (1...60_000).contains(window) else { throw ValidationError("--window must be 1...60000") }
        guard (BenchPayload.headerSize...60_000).contains(payload) else { throw ValidationError("--payload must be 16...60000") }
        guard duration > 0, warmup >= 0, drainTimeout > 0 else { throw ValidationError("durations must be positive") }
        guard rttMs.map({ $0 >= 0 }) ?? true else { throw ValidationError("--rtt-ms must not be negative") }
        _ = try ChatBenchOptions.parseVersion(protocolVersion)
        for m in metrics where MetricsTarget(argument: m) == nil {
            throw ValidationError("--metrics \(m): expected [NAME=]HOST:PORT")
        }
    }

    public func run() async throws {
        let pairsConfiguration = PairsConfiguration(
            host: common.host, port: common.port, recipientHost: toHost, recipientPort: toPort, firstUser: sequencedAt,
            pairs: pairs, rate: rate, window: window, payloadSize: payload,
            duration: ChatBenchOptions.seconds(duration), warmup: ChatBenchOptions.seconds(warmup),
            drainTimeout: ChatBenchOptions.seconds(drainTimeout),
            device: ChatDeviceOptions(version: try ChatBenchOptions.parseVersion(protocolVersion), topicAliases: !noTopicAliases),
            threads: common.threads, setupTimeout: common.setupTimeout, sources: [], label: common.label
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
