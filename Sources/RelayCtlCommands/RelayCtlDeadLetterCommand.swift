import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import RelayChat
import RelayOps
import RelayReplication
import RelayStore

/// `relayctl deadletter list|retry|drop`: what a region set aside because it
/// could never apply it (docs/operability.md, "Dead letters").
public struct RelayCtlDeadLetterCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "deadletter",
        abstract: "List, retry or drop what a region set aside: replication frames and fan-outs it could never apply.",
        subcommands: [List.self, Retry.self, Drop.self]
    )

    /// For ArgumentParser.
    public init() {}

    /// Where the dead letters are: a region of the topology, or a Redis.
    struct Target: ParsableArguments {
        @Option(help: "The region whose dead letters to act on (its Redis from the topology's settings file).")
        var region: String?

        @Option(help: "The topology file.")
        var topology: String = "topology.json"

        @Option(help: "The region's Redis, HOST:PORT, instead of --region.")
        var redis: String?

        func validate() throws {
            guard (region == nil) != (redis == nil) else {
                throw ValidationError("give either --region NAME (with --topology) or --redis HOST:PORT")
            }
        }

        /// Runs `body` with the dead letters of the target.
        func withDeadLetters<T: Sendable>(_ body: (DeadLetters, any EventLoop) async throws -> T) async throws -> T {
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            if let redis {
                guard let address = HostPort(argument: redis) else { throw RelayCtlError("--redis \(redis) is not HOST:PORT") }
                var configuration = RedisConfiguration(host: address.host, port: address.port)
                configuration.connectionCount = 1
                configuration.commandTimeout = .seconds(5)
                let client = RedisClient(configuration: configuration, logger: Logger(label: "relayctl.redis"))
                defer { client.close() }
                return try await body(DeadLetters(redis: client), loop)
            }
            let control = try RegionControl(topologyPath: topology)
            defer { control.close() }
            guard let region, let endpoint = control.regions.first(where: { $0.name == region }) else {
                throw RelayCtlError("no region \(region ?? "") in \(topology) (regions: \(control.regions.map(\.name).joined(separator: ", ")))")
            }
            return try await body(DeadLetters(redis: endpoint.redis), loop)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the dead letters, oldest first.")

        @OptionGroup var target: Target

        @Flag(help: "Print them as JSON.")
        var json = false

        func run() async throws {
            let letters = try await target.withDeadLetters { letters, loop in
                try await letters.list(on: loop).get()
            }
            if json {
                StandardOutput.writeLine(String(decoding: (try? JSONEncoder().encode(letters)) ?? Data(), as: UTF8.self))
                return
            }
            if letters.isEmpty { StandardOutput.writeLine("no dead letters") }
            for letter in letters {
                StandardOutput.writeLine("\(letter.key)  attempts \(letter.attempts)  at \(letter.atMilliseconds) ms  \(letter.error)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the region's relay to apply a dead letter again (its sweeper takes it within seconds).")

        @OptionGroup var target: Target

        @Argument(help: "The letter's key, as list shows it (frame:<origin>:<id> or fanout:<conversation>:<seq>).")
        var key: String

        func run() async throws {
            let found = try await target.withDeadLetters { letters, loop in try await letters.retry(key, on: loop).get() }
            guard found else { throw RelayCtlError("no dead letter \(key); relayctl deadletter list shows them") }
            StandardOutput.writeLine("\(key): queued for retry")
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a dead letter for good.")

        @OptionGroup var target: Target

        @Argument(help: "The letter's key, as list shows it.")
        var key: String

        func run() async throws {
            let found = try await target.withDeadLetters { letters, loop in try await letters.drop(key, on: loop).get() }
            guard found else { throw RelayCtlError("no dead letter \(key); relayctl deadletter list shows them") }
            StandardOutput.writeLine("\(key): dropped")
        }
    }
}
