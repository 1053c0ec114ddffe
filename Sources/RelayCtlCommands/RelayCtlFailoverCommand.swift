import ArgumentParser
import Foundation
import RelayChat
import RelayOps

/// `relayctl failover --region A`: fences A and makes its standby serve it.
public struct RelayCtlFailoverCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Fail a region over to its standby: the standby serves its devices and sequences its conversations under a new epoch.",
        discussion: """
            Writes the region's new state (a higher term, served by its standby) into every region's Redis \
            that answers and tells their relays. The failed region, if it still runs, disconnects its devices \
            with MQTT 5 reason 0x9C and the standby's address; if it is down, it learns the new state from \
            its peers before it accepts any write when it comes back. The standby must answer.
            """
    )

    @Option(help: "The region to fail over.")
    var region: String

    @Option(help: "The topology file.")
    var topology: String = "topology.json"

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// Runs the command.
    public func run() async throws {
        let control = try RegionControl(topologyPath: topology)
        defer { control.close() }
        let outcome = try await RegionFailover.failover(region, control: control)
        StandardOutput.writeLine(json ? outcome.json : outcome.text)
    }
}

/// `relayctl failback --region A`: returns a failed-over region once it caught up.
public struct RelayCtlFailbackCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "failback",
        abstract: "Return a failed-over region: fence it, wait until its standby's frames reached it, then let it serve again.",
        discussion: """
            The region must be up. While it is fenced no region serves its devices (they are told to retry); \
            the command waits until the standby's outbox to the region is empty, then gives the region a new \
            term under which its conversations continue.
            """
    )

    @Option(help: "The region to fail back.")
    var region: String

    @Option(help: "The topology file.")
    var topology: String = "topology.json"

    @Option(help: "Seconds to wait for the region to catch up.")
    var timeout: Double = 60

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// Runs the command.
    public func run() async throws {
        let control = try RegionControl(topologyPath: topology)
        defer { control.close() }
        let outcome = try await RegionFailover.failback(region, control: control, timeout: timeout)
        StandardOutput.writeLine(json ? outcome.json : "\(region) serves itself again (term \(outcome.term)) after \(outcome.drainedFrames) frames from \(outcome.servedBy) drained in \(outcome.catchUpMs) ms")
    }
}
