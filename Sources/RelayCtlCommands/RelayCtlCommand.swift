import ArgumentParser

/// `relayctl`: the operator's tool. Key and token management for now.
public struct RelayCtlCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "relayctl",
        abstract: "Operate a relay deployment: keys and tokens, topology, links, failover and failback, dead letters.",
        subcommands: [
            RelayCtlKeysCommand.self, RelayCtlTokenCommand.self,
            RelayCtlTopologyCommand.self,
            RelayCtlLinkCommand.self,
            RelayCtlFailoverCommand.self, RelayCtlFailbackCommand.self,
            RelayCtlDrillCommand.self,
            RelayCtlDeadLetterCommand.self,
            RelayCtlOutboxCommand.self,
        ]
    )

    /// For ArgumentParser, which sets the options.
    public init() {}
}
