import ArgumentParser

/// `relay-bench`: load generators for the relay and for other brokers. Each
/// scenario is a subcommand.
public struct RelayBenchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay-bench",
        abstract: "Load generator for MQTT brokers and the relay.",
        subcommands: [MQTTCommand.self, PairsCommand.self, CrossRegionCommand.self, GroupCommand.self, ConnectionsCommand.self, WireCommand.self]
    )

    public init() {}
}
