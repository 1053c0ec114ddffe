import ArgumentParser

/// `relay-bench connections`: many idle device sessions on one relay.
public struct ConnectionsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "N idle MQTT sessions held by one relay: connect rate and memory per session.",
        discussion: """
            Issues N tokens, then connects N devices (at most --concurrency at once), each \
            subscribing to d/<device>/#; the connect rate is N over the time from the first \
            connect to the last SUBACK. With --relay-pid (and --redis-pid) it reads VmRSS from \
            /proc/<pid>/status before connecting and --settle seconds after the last SUBACK. \
            Every connection is a file descriptor on both sides: raise ulimit -n, and give \
            several --source addresses (127.0.0.x) past about 28,000 sessions.
            """
    )

    @OptionGroup var common: ChatBenchOptions

    @Option(help: "Sessions (devices) to connect.")
    var sessions = 1000

    @Option(help: "Devices connecting at once.")
    var concurrency = 256

    @Option(help: "Seconds to wait after the last SUBACK before reading memory.")
    var settle: Double = 2

    @Option(help: "The relay's process id, to read its resident memory.")
    var relayPid: Int32?

    @Option(help: "Redis's process id, to read its resident memory.")
    var redisPid: Int32?

    @Option(name: .customLong("protocol"), help: "MQTT version: 3.1.1 or 5.")
    var protocolVersion = "5"

    @Option(help: "Keep Alive in seconds (0: none; devices use one, so the default does too).")
    var keepAlive: UInt16 = 60

    @Option(parsing: .upToNextOption, help: "Local addresses to connect from (e.g. 127.0.0.2 127.0.0.3).")
    var source: [String] = []

    public init() {}

    public func validate() throws {
        guard (1...1_000_000).contains(sessions) else { throw ValidationError("--sessions must be 1...1000000") }
        guard concurrency >= 1, settle >= 0 else { throw ValidationError("--concurrency must be positive, --settle not negative") }
        _ = try ChatBenchOptions.parseVersion(protocolVersion)
    }

    public func run() async throws {
        let configuration = ConnectionsConfiguration(
            host: common.host, port: common.port, sessions: sessions, concurrency: concurrency,
            device: ChatDeviceOptions(version: try ChatBenchOptions.parseVersion(protocolVersion), keepAlive: keepAlive),
            threads: common.threads, setupTimeout: common.setupTimeout, settle: ChatBenchOptions.seconds(settle),
            relayPID: relayPid, redisPID: redisPid,
            sources: try ChatDeviceConnector.sourceAddresses(source), label: common.label
        )
        let tokens = try common.tokens()
        try await common.report { try await ConnectionsRunner.run(configuration, tokens: tokens) }
    }
}
