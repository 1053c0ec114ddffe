import ArgumentParser
import NIOCore
import NIOPosix
import RelayLinkEmulator
import RelayOps

/// `relayctl link`: the delay proxy of an inter-region link, and its controls.
public struct RelayCtlLinkCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Run a delay proxy on an inter-region link, or cut, heal, set or query a running one.",
        subcommands: [Proxy.self, Cut.self, Heal.self, Set.self, Status.self]
    )

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// `relayctl link proxy`: runs a delay proxy until SIGINT or SIGTERM.
    public struct Proxy: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(
            abstract: "Forward TCP from --listen to --to, delayed by half the RTT each way, paced to the bandwidth, with loss emulated as retransmission delay."
        )

        @Option(help: "Address to accept connections on, HOST:PORT.")
        var listen: HostPort

        @Option(help: "Address to forward them to, HOST:PORT; repeat it for a region's several nodes: a connection goes to the first that takes it.")
        var to: [HostPort]

        @Option(help: "Round-trip time to add, in milliseconds.")
        var rtt: Double = 0

        @Option(help: "Bandwidth of each direction, in kbit/s.")
        var bandwidth: Double = 1_000_000

        @Option(help: "Fraction of chunks delayed by one more RTT, as if lost and retransmitted (0 up to 1).")
        var loss: Double = 0

        @Option(help: "Address of the control listener (cut, heal, set, status), HOST:PORT.")
        var control: HostPort?

        /// For ArgumentParser, which sets the options.
        public init() {}

        /// Refuses conditions that cannot be applied.
        public func validate() throws {
            if to.isEmpty { throw ValidationError("give --to at least once") }
            if let problem = LinkConditions(rttMs: rtt, bandwidthKbps: bandwidth, loss: loss).problem {
                throw ValidationError(problem)
            }
        }

        /// Runs the proxy; prints one line when it listens.
        public func run() async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let proxy = try await DelayProxy.start(
                listen: listen, to: to[0], alternates: Array(to.dropFirst()), control: control,
                conditions: LinkConditions(rttMs: rtt, bandwidthKbps: bandwidth, loss: loss), group: group
            )
            let controlText = proxy.controlAddress.map { " control \($0.ipAddress ?? ""):\($0.port ?? 0)" } ?? ""
            StandardOutput.writeLine("relayctl link proxy listening on \(proxy.listenAddress.ipAddress ?? ""):\(proxy.listenAddress.port ?? 0) to \(to.map(\.description).joined(separator: ","))\(controlText) rtt=\(rtt)ms bandwidth=\(bandwidth)kbit/s loss=\(loss)")
            _ = await TerminationSignal.wait()
            await proxy.close()
            try await group.shutdownGracefully()
        }
    }

    /// Options shared by the control subcommands.
    public struct ControlOptions: ParsableArguments {
        @Option(help: "The proxy's control address, HOST:PORT.")
        var control: HostPort

        /// For ArgumentParser, which sets the options.
        public init() {}
    }

    /// `relayctl link cut`.
    public struct Cut: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(abstract: "Partition the link: close its connections and refuse new ones.")
        @OptionGroup var options: ControlOptions
        /// For ArgumentParser, which sets the options.
        public init() {}
        /// Sends the command and prints the reply.
        public func run() async throws { try await LinkControlClient.send(.cut, to: options.control) }
    }

    /// `relayctl link heal`.
    public struct Heal: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(abstract: "End a partition: accept connections again.")
        @OptionGroup var options: ControlOptions
        /// For ArgumentParser, which sets the options.
        public init() {}
        /// Sends the command and prints the reply.
        public func run() async throws { try await LinkControlClient.send(.heal, to: options.control) }
    }

    /// `relayctl link set`.
    public struct Set: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(abstract: "Change the link's RTT, bandwidth or loss; what is not given stays.")
        @OptionGroup var options: ControlOptions
        @Option(help: "Round-trip time in milliseconds.") var rtt: Double?
        @Option(help: "Bandwidth of each direction in kbit/s.") var bandwidth: Double?
        @Option(help: "Loss fraction (0 up to 1).") var loss: Double?
        /// For ArgumentParser, which sets the options.
        public init() {}
        /// Needs at least one setting.
        public func validate() throws {
            if rtt == nil && bandwidth == nil && loss == nil { throw ValidationError("give --rtt, --bandwidth or --loss") }
        }
        /// Sends the command and prints the reply.
        public func run() async throws {
            try await LinkControlClient.send(.set(rttMs: rtt, bandwidthKbps: bandwidth, loss: loss), to: options.control)
        }
    }

    /// `relayctl link status`.
    public struct Status: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(abstract: "Print the proxy's state as one line of JSON.")
        @OptionGroup var options: ControlOptions
        /// For ArgumentParser, which sets the options.
        public init() {}
        /// Sends the command and prints the reply.
        public func run() async throws { try await LinkControlClient.send(.status, to: options.control) }
    }
}
