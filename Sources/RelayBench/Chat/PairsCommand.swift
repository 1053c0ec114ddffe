import ArgumentParser
import NIOCore

/// `relay-bench pairs`: N 1:1 conversations against a chat relay.
public struct PairsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pairs",
        abstract: "N 1:1 conversations at a target rate: send→PUBACK and send→delivery latency.",
        discussion: """
            Connects 2N devices (tokens from --key-dir), then device a<i> sends to b<i> on \
            s/<conversation> for --duration seconds at --rate messages per second over all pairs \
            (0: as fast as the window allows, which finds the maximum rate); at most --window \
            messages per pair are sent and not yet delivered. Latency is measured from the \
            PUBLISH write to its PUBACK, and to the recipient reading the Delivery. \
            Exits 1 on loss, refusals, reordering or a timeout; 2 when the run could not be set up.
            """
    )

    @OptionGroup var common: ChatBenchOptions

    @Option(help: "Conversations (2 devices each).")
    var pairs = 10

    @Option(help: "Messages per second over all pairs; 0 for as fast as the windows allow.")
    var rate: Double = 0

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

    @Option(parsing: .upToNextOption, help: "Local addresses to connect from (e.g. 127.0.0.2 127.0.0.3).")
    var source: [String] = []

    public init() {}

    public func validate() throws {
        guard (1...50_000).contains(pairs) else { throw ValidationError("--pairs must be 1...50000") }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        guard (1...60_000).contains(window) else { throw ValidationError("--window must be 1...60000") }
        guard (BenchPayload.headerSize...60_000).contains(payload) else { throw ValidationError("--payload must be 16...60000") }
        guard duration > 0, warmup >= 0, drainTimeout > 0 else { throw ValidationError("durations must be positive") }
        _ = try ChatBenchOptions.parseVersion(protocolVersion)
    }

    public func run() async throws {
        let configuration = PairsConfiguration(
            host: common.host, port: common.port, recipientHost: common.host, recipientPort: common.port, pairs: pairs, rate: rate, window: window, payloadSize: payload,
            duration: ChatBenchOptions.seconds(duration), warmup: ChatBenchOptions.seconds(warmup),
            drainTimeout: ChatBenchOptions.seconds(drainTimeout),
            device: ChatDeviceOptions(version: try ChatBenchOptions.parseVersion(protocolVersion), topicAliases: !noTopicAliases),
            threads: common.threads, setupTimeout: common.setupTimeout,
            sources: try ChatDeviceConnector.sourceAddresses(source), label: common.label
        )
        let tokens = try common.tokens()
        try await common.report { try await PairsRunner.run(configuration, tokens: tokens) }
    }
}
