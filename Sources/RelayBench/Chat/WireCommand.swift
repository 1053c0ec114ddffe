import ArgumentParser

/// `relay-bench wire`: bytes on the wire per 1:1 message.
public struct WireCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Bytes on the wire per 1:1 message, device to relay and relay to device: MQTT 3.1.1, 5, 5 with topic aliases, each with full and compact deliveries.",
        discussion: """
            For each variant, two fresh devices connect and one sends --messages messages to \
            the other, one at a time (each waits for its PUBACK, its delivery and the sender's \
            sequenced and delivered statuses); every byte read from and written to both sockets \
            after the SUBACKs is counted. Client message ids are 16 characters. The +compact \
            variants' recipient asks for compact deliveries (q/deliveries.compact) first, not counted.
            """
    )

    @OptionGroup var common: ChatBenchOptions

    @Option(help: "Messages per variant.")
    var messages = 100

    @Option(help: "Ciphertext bytes per message.")
    var payload = 64

    @Option(help: "Seconds allowed for each message.")
    var messageTimeout: Double = 10

    @Option(parsing: .upToNextOption, help: "Variants: 3.1.1, 5, 5+aliases, and each with +compact (default all).")
    var variant: [String] = []

    public init() {}

    public func validate() throws {
        guard messages >= 1, (1...60_000).contains(payload), messageTimeout > 0 else {
            throw ValidationError("--messages, --payload (1...60000) and --message-timeout must be positive")
        }
        for name in variant where !WireVariant.all.contains(where: { $0.name == name }) {
            throw ValidationError("unknown variant \(name): use \(WireVariant.all.map(\.name).joined(separator: ", "))")
        }
    }

    public func run() async throws {
        let variants = variant.isEmpty ? WireVariant.all : WireVariant.all.filter { variant.contains($0.name) }
        let configuration = WireConfiguration(
            host: common.host, port: common.port, messages: messages, payloadSize: payload, variants: variants,
            setupTimeout: common.setupTimeout, messageTimeout: ChatBenchOptions.seconds(messageTimeout), label: common.label
        )
        let tokens = try common.tokens()
        try await common.report { try await WireRunner.run(configuration, tokens: tokens) }
    }
}
