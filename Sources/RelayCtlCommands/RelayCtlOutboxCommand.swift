import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import RelayChat
import RelayOps
import RelayReplication

/// `relayctl outbox status|reset`: a region's outboxes to its peers, and
/// the reset of a link broken at its outbox's cap (decision 0015).
public struct RelayCtlOutboxCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Show a region's replication outboxes, or reset a link broken at its outbox's cap.",
        subcommands: [Status.self, Reset.self]
    )

    /// For ArgumentParser.
    public init() {}

    struct Target: ParsableArguments {
        @Option(help: "The region whose outboxes to act on (its Redis from the topology's settings file).")
        var region: String

        @Option(help: "The topology file.")
        var topology: String = "topology.json"

        /// Runs `body` with the region's outboxes and its peers.
        func withOutbox<T: Sendable>(_ body: (Outbox, [String], any EventLoop) async throws -> T) async throws -> T {
            let control = try RegionControl(topologyPath: topology)
            defer { control.close() }
            guard let endpoint = control.regions.first(where: { $0.name == region }) else {
                throw RelayCtlError("no region \(region) in \(topology) (regions: \(control.regions.map(\.name).joined(separator: ", ")))")
            }
            let peers = control.regions.map(\.name).filter { $0 != region }
            return try await body(try Outbox(redis: endpoint.redis), peers, MultiThreadedEventLoopGroup.singleton.next())
        }
    }

    struct Row: Codable {
        var peer: String
        var frames: UInt64
        var bytes: UInt64
        var acknowledged: UInt64
        var appended: UInt64
        var broken: OutboxBreak?
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each outbox of the region: frames and bytes held, and whether its link is broken.")

        @OptionGroup var target: Target

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let rows = try await target.withOutbox { outbox, peers, loop in
                var rows: [Row] = []
                for peer in peers {
                    let status = try await outbox.status(peer: peer, on: loop).get()
                    rows.append(Row(peer: peer, frames: status.depth, bytes: status.bytes, acknowledged: status.acknowledged,
                                    appended: status.appended, broken: status.broken))
                }
                return rows
            }
            if json {
                StandardOutput.writeLine(String(decoding: (try? JSONEncoder().encode(rows)) ?? Data(), as: UTF8.self))
                return
            }
            for row in rows {
                if let broken = row.broken {
                    StandardOutput.writeLine("\(target.region) -> \(row.peer): BROKEN since \(broken.atMs) ms at the cap (\(broken.frames) frames, \(broken.bytes) bytes held), \(broken.discarded) frames discarded; re-seed \(row.peer), then relayctl outbox reset --region \(target.region) --peer \(row.peer)")
                } else {
                    StandardOutput.writeLine("\(target.region) -> \(row.peer): \(row.frames) frames, \(row.bytes) bytes held, acknowledged \(row.acknowledged) of \(row.appended)")
                }
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a broken link once the peer is re-seeded: the discarded frames are given up and shipping resumes.")

        @OptionGroup var target: Target

        @Option(help: "The peer region whose link to reset.")
        var peer: String

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let reset = try await target.withOutbox { outbox, peers, loop in
                guard peers.contains(peer) else {
                    throw RelayCtlError("\(peer) is not a peer of \(target.region) (peers: \(peers.joined(separator: ", ")))")
                }
                return try await outbox.reset(peer: peer, on: loop).get()
            }
            if json {
                StandardOutput.writeLine(String(decoding: (try? JSONEncoder().encode(reset)) ?? Data(), as: UTF8.self))
            } else if reset.wasBroken {
                StandardOutput.writeLine("\(target.region) -> \(peer): reset; \(reset.discarded) frames given up, shipping resumes after \(reset.resumesAfter)")
            } else {
                StandardOutput.writeLine("\(target.region) -> \(peer): not broken; nothing changed")
            }
        }
    }
}
