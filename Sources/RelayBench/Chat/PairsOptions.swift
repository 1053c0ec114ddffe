import ArgumentParser

/// The traffic options of the 1:1 scenarios (`pairs`, `cross-region`):
/// how many conversations, how each sends, for how long, over which MQTT.
/// The rate is each scenario's own (`pairs` takes 0 for "as fast as the
/// windows allow", `cross-region` needs a target).
struct PairsOptions: ParsableArguments {
    @Option(help: "Conversations (2 devices each).")
    var pairs = 10

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

    func validate() throws {
        guard (1...50_000).contains(pairs) else { throw ValidationError("--pairs must be 1...50000") }
        guard (1...60_000).contains(window) else { throw ValidationError("--window must be 1...60000") }
        guard (BenchPayload.headerSize...60_000).contains(payload) else { throw ValidationError("--payload must be 16...60000") }
        guard duration > 0, warmup >= 0, drainTimeout > 0 else { throw ValidationError("durations must be positive") }
        _ = try ChatBenchOptions.parseVersion(protocolVersion)
    }

    /// A run's configuration: senders at `common`'s relay, recipients at
    /// `recipient` (the same relay when nil).
    func configuration(
        _ common: ChatBenchOptions, rate: Double, recipient: (host: String, port: Int)? = nil,
        firstUser: PairSide = .sender, staggered: Bool = false, sources: [String] = []
    ) throws -> PairsConfiguration {
        PairsConfiguration(
            host: common.host, port: common.port,
            recipientHost: recipient?.host ?? common.host, recipientPort: recipient?.port ?? common.port,
            firstUser: firstUser, staggered: staggered,
            pairs: pairs, rate: rate, window: window, payloadSize: payload,
            duration: ChatBenchOptions.seconds(duration), warmup: ChatBenchOptions.seconds(warmup),
            drainTimeout: ChatBenchOptions.seconds(drainTimeout),
            device: ChatDeviceOptions(version: try ChatBenchOptions.parseVersion(protocolVersion), topicAliases: !noTopicAliases),
            threads: common.threads, setupTimeout: common.setupTimeout,
            sources: try ChatDeviceConnector.sourceAddresses(sources), label: common.label
        )
    }
}
