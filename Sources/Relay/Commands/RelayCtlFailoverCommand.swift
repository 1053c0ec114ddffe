import ArgumentParser
import Foundation
import RelayCore

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
        let outcome = try await Self.failover(region, control: control)
        StandardOutput.writeLine(json ? outcome.json : outcome.text)
    }

    struct Outcome: Encodable, SortedJSON {
        var region: String
        var servedBy: String
        var term: UInt32
        var reached: [String]
        var unreached: [String]

        var text: String {
            var line = "\(region) failed over to \(servedBy) (term \(term)); told \(reached.joined(separator: ", "))"
            if !unreached.isEmpty { line += "; not reachable (they learn from their peers): \(unreached.joined(separator: ", "))" }
            return line
        }

    }

    static func failover(_ region: String, control: RegionControl) async throws -> Outcome {
        guard let info = control.topology.region(named: region) else {
            throw RelayCtlError("no region \(region) in the topology (regions: \(control.topology.regions.map(\.name).joined(separator: ", ")))")
        }
        guard let standby = info.standby else { throw RelayCtlError("region \(region) has no standby in the topology") }
        let (map, reachable, _) = await control.mergedMap()
        guard reachable.contains(standby) else {
            throw RelayCtlError("the standby \(standby) does not answer: it cannot take over \(region)")
        }
        guard let state = map.failover(region) else {
            let current = map.state(of: region)
            throw RelayCtlError("\(region) is not serving itself (served by \(current.servedBy), term \(current.term)\(current.fenced ? ", fenced" : "")): fail it back first")
        }
        let reached = await control.publish(state, of: region)
        guard reached.contains(standby) else { throw RelayCtlError("could not write the new state to the standby \(standby)") }
        return Outcome(region: region, servedBy: standby, term: state.term, reached: reached,
                       unreached: control.regions.map(\.name).filter { !reached.contains($0) })
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
        let outcome = try await Self.failback(region, control: control, timeout: timeout)
        StandardOutput.writeLine(json ? outcome.json : "\(region) serves itself again (term \(outcome.term)) after \(outcome.drainedFrames) frames from \(outcome.servedBy) drained in \(outcome.catchUpMs) ms")
    }

    struct Outcome: Encodable, SortedJSON {
        var region: String
        var servedBy: String
        var term: UInt32
        var drainedFrames: UInt64
        var catchUpMs: Int

    }

    static func failback(_ region: String, control: RegionControl, timeout: Double) async throws -> Outcome {
        guard control.topology.region(named: region) != nil else { throw RelayCtlError("no region \(region) in the topology") }
        let (map, reachable, _) = await control.mergedMap()
        guard reachable.contains(region) else { throw RelayCtlError("\(region) does not answer: start it (scripts/up) before failing it back") }
        let current = map.state(of: region)
        // The standby that served it: from the current state, or (resuming an interrupted failback) the topology.
        let standby = current.servedBy != region ? current.servedBy : (control.topology.region(named: region)?.standby ?? region)
        var fenced = map
        if let fence = map.failbackFence(region) {
            _ = await control.publish(fence, of: region)
            fenced.merge([region: fence])
        } else if !current.fenced {
            throw RelayCtlError("\(region) is not failed over (it serves itself, term \(current.term))")
        }
        let start = Date()
        let initial = await control.backlog(from: standby, to: region) ?? 0
        while true {
            let backlog = await control.backlog(from: standby, to: region)
            if backlog == 0 { break }
            if Date().timeIntervalSince(start) > timeout {
                throw RelayCtlError("\(region) has not caught up with \(standby) after \(Int(timeout)) s (\(backlog.map { "\($0) frames behind" } ?? "\(standby) does not answer")); it stays fenced: run failback again")
            }
            try await Task.sleep(for: .milliseconds(50))  // polling another process's Redis: there is no event to await
        }
        guard let resume = fenced.failbackResume(region) else { throw RelayCtlError("\(region) is in an unexpected state") }
        _ = await control.publish(resume, of: region)
        return Outcome(region: region, servedBy: standby, term: resume.term, drainedFrames: initial, catchUpMs: Int(Date().timeIntervalSince(start) * 1000))
    }
}

/// One line of JSON with sorted keys, for `--json` outcomes.
protocol SortedJSON: Encodable {}

extension SortedJSON {
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
