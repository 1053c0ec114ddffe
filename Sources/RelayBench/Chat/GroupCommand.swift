import ArgumentParser

/// `relay-bench group`: one sender to a large group, every member online.
public struct GroupCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "One sender to an M-member group, all online: time until the last member has each message.",
        discussion: """
            Connects M devices (one per user), the first creates a group of all of them \
            (q/group.create), then sends --messages messages one at a time; each is timed from \
            its PUBLISH until every other member has read its Delivery. The region's \
            maxGroupMembers must allow M and its request rate limit one group.create.
            """
    )

    @OptionGroup var common: ChatBenchOptions

    @Option(help: "Group members including the sender.")
    var members = 1024

    @Option(help: "Messages measured.")
    var messages = 20

    @Option(help: "Messages sent first and discarded.")
    var warmup = 3

    @Option(help: "Ciphertext bytes per message.")
    var payload = 64

    @Option(help: "Devices connecting at once.")
    var concurrency = 256

    @Option(help: "Seconds allowed for each message to reach everyone.")
    var messageTimeout: Double = 30

    @Option(name: .customLong("protocol"), help: "MQTT version: 3.1.1 or 5.")
    var protocolVersion = "5"

    @Option(parsing: .upToNextOption, help: "Local addresses to connect from.")
    var source: [String] = []

    public init() {}

    public func validate() throws {
        guard (2...100_000).contains(members) else { throw ValidationError("--members must be 2...100000") }
        guard messages >= 1, warmup >= 0 else { throw ValidationError("--messages must be at least 1") }
        guard (1...60_000).contains(payload) else { throw ValidationError("--payload must be 1...60000") }
        guard concurrency >= 1, messageTimeout > 0 else { throw ValidationError("--concurrency and --message-timeout must be positive") }
        _ = try ChatBenchOptions.parseVersion(protocolVersion)
    }

    public func run() async throws {
        let configuration = GroupConfiguration(
            host: common.host, port: common.port, members: members, messages: messages, warmupMessages: warmup,
            payloadSize: payload, device: ChatDeviceOptions(version: try ChatBenchOptions.parseVersion(protocolVersion)),
            threads: common.threads, concurrency: concurrency, setupTimeout: common.setupTimeout,
            messageTimeout: ChatBenchOptions.seconds(messageTimeout),
            sources: try ChatDeviceConnector.sourceAddresses(source), label: common.label
        )
        let tokens = try common.tokens()
        try await common.report { try await GroupRunner.run(configuration, tokens: tokens) }
    }
}
