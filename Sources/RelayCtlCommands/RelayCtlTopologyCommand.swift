import ArgumentParser
import RelayOps
import RelayTopology

/// `relayctl topology`: the deployment's regions and links.
public struct RelayCtlTopologyCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Inspect topology.json and the regions/<name>.json files it names.",
        subcommands: [Check.self]
    )

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// `relayctl topology check`: every problem, one per line, or a one-line summary.
    public struct Check: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(
            abstract: "Validate topology.json and every settings file it names; print every problem with what to fix (exit 1), or a summary (exit 0)."
        )

        @Option(help: "The topology file; settings paths in it are relative to its directory.")
        var file: String = "topology.json"

        /// For ArgumentParser, which sets the options.
        public init() {}

        /// Runs the check; exits with code 1 when there are problems.
        public func run() async throws {
            let (topology, problems) = TopologyCheck.check(path: file)
            guard problems.isEmpty, let topology else {
                for problem in problems { StandardError.writeLine(problem.message) }
                StandardError.writeLine("\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s")")
                throw ExitCode(1)
            }
            let proxies = topology.links.reduce(0) { $0 + $1.proxies.count }
            StandardOutput.writeLine("\(file): valid: \(topology.regions.count) regions (\(topology.regions.map(\.name).joined(separator: ", "))), \(topology.links.count) links, \(proxies) delay proxies")
        }
    }
}
