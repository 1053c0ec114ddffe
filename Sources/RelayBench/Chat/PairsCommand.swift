import ArgumentParser

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

    @OptionGroup var traffic: PairsOptions

    @Option(help: "Messages per second over all pairs; 0 for as fast as the windows allow.")
    var rate: Double = 0

    @Option(parsing: .upToNextOption, help: "Local addresses to connect from (e.g. 127.0.0.2 127.0.0.3).")
    var source: [String] = []

    public init() {}

    public func validate() throws {
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
    }

    public func run() async throws {
        let configuration = try traffic.configuration(common, rate: rate, sources: source)
        let tokens = try common.tokens()
        try await common.report { try await PairsRunner.run(configuration, tokens: tokens) }
    }
}
