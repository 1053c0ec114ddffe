import ArgumentParser

/// `relay`: one node of the messaging relay.
public struct RelayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "A multi-region messaging relay that devices reach over MQTT.",
        subcommands: [ServeCommand.self, BrokerCommand.self]
    )

    public init() {}
}
