import ArgumentParser
import MQTT
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `relay-bench mqtt`: publisher/subscriber pairs over plain MQTT.
public struct MQTTCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mqtt",
        abstract: "Publisher/subscriber pairs, one topic per pair: throughput, end-to-end latency, loss and order.",
        discussion: """
            Opens P subscriber and P publisher connections; subscriber i subscribes to \
            bench/<run-id>/<i> and publisher i publishes there, as fast as the window allows: \
            at QoS 1 at most W PUBLISHes without PUBACK, at QoS 0 at most W messages published \
            but not yet received by the subscriber. Exits 1 on a timeout or on loss at QoS 1, \
            2 when the run could not be set up or a connection failed.
            """
    )

    @Option(help: "Broker host.")
    var host = "127.0.0.1"

    @Option(help: "Broker port.")
    var port = 1883

    @Option(help: "Publisher/subscriber pairs.")
    var pairs = 1

    @Option(help: "QoS of PUBLISH and SUBSCRIBE: 0 or 1.")
    var qos = 1

    @Option(help: "Per-publisher window (unacknowledged at QoS 1, undelivered at QoS 0).")
    var inflight = 64

    @Option(help: "Messages per publisher (instead of --duration).")
    var messages: Int?

    @Option(help: "Seconds to publish (default 10 unless --messages is given).")
    var duration: Double?

    @Option(help: "Payload bytes (at least 16: 8-byte timestamp, 8-byte sequence).")
    var payload = 64

    @Option(name: .customLong("protocol"), help: "MQTT version: 3.1.1 or 5.")
    var protocolVersion = "3.1.1"

    @Option(help: "Seconds to publish before measuring; discarded.")
    var warmup: Double = 0

    @Option(help: "Event loop threads.")
    var threads = 1

    @Option(help: "Seconds allowed for TCP connect, CONNACK and SUBACK.")
    var connectTimeout: Double = 10

    @Option(help: "Seconds allowed for each phase including its drain (default: duration + 30, or 300 with --messages).")
    var timeout: Double?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "A name carried into the output, e.g. the broker's.")
    var label: String?

    public init() {}

    public func validate() throws {
        if messages != nil && duration != nil {
            throw ValidationError("give --messages or --duration, not both")
        }
        guard qos == 0 || qos == 1 else { throw ValidationError("--qos must be 0 or 1") }
        _ = try parsedVersion()
    }

    private func parsedVersion() throws -> ProtocolVersion {
        switch protocolVersion {
        case "3.1.1", "311", "4": return .v311
        case "5", "5.0": return .v5
        default: throw ValidationError("--protocol must be 3.1.1 or 5")
        }
    }

    private static func seconds(_ s: Double) -> TimeAmount {
        .nanoseconds(Int64((s * 1e9).rounded()))
    }

    public func run() async throws {
        let load: MQTTBenchConfiguration.Load =
            if let messages { .messages(messages) } else { .duration(Self.seconds(duration ?? 10)) }
        let configuration = MQTTBenchConfiguration(
            host: host,
            port: port,
            pairs: pairs,
            qos: qos == 1 ? .atLeastOnce : .atMostOnce,
            inflight: inflight,
            load: load,
            payloadSize: payload,
            protocolVersion: try parsedVersion(),
            warmup: Self.seconds(warmup),
            threads: threads,
            label: label,
            setupTimeout: Self.seconds(connectTimeout),
            phaseTimeout: timeout.map(Self.seconds)
        )
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.detail)
        }
        let result: MQTTBenchResult
        do {
            result = try await MQTTBenchRunner.run(configuration)
        } catch {
            printError("relay-bench: \(error)")
            throw ExitCode(2)
        }
        print(json ? result.json() : result.table())
        if result.failed { throw ExitCode(1) }
    }

    private func printError(_ message: String) {
        var line = message + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
