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

/// Options every chat scenario takes: where the relay is, how devices get
/// tokens, how they speak MQTT, and how the result is printed.
struct ChatBenchOptions: ParsableArguments {
    @Option(help: "Relay host.")
    var host = "127.0.0.1"

    @Option(help: "Relay MQTT port.")
    var port = 1883

    @Option(help: "Key directory with the deployment's private key (relayctl keys init).")
    var keyDir = "keys"

    @Option(help: "The relay's region name: the devices' home in their tokens.")
    var home = "local"

    @Option(help: "Event loop threads.")
    var threads = 1

    @Option(help: "Seconds allowed for connecting every device (TCP, CONNACK, SUBACK).")
    var connectTimeout: Double = 60

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "A name carried into the output.")
    var label: String?

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1...65535") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1...64") }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive") }
    }

    var setupTimeout: TimeAmount { Self.seconds(connectTimeout) }

    func tokens() throws -> DeviceTokens {
        try DeviceTokens(keyDirectory: keyDir, home: home)
    }

    static func seconds(_ s: Double) -> TimeAmount {
        .nanoseconds(Int64((s * 1e9).rounded()))
    }

    static func parseVersion(_ text: String) throws -> ProtocolVersion {
        switch text {
        case "3.1.1", "311", "4": return .v311
        case "5", "5.0": return .v5
        default: throw ValidationError("--protocol must be 3.1.1 or 5")
        }
    }

    /// A short random run id, so every run uses fresh users and conversations.
    static func makeRunID() -> String {
        String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    /// Prints the table or the JSON; a failure message goes to stderr and
    /// becomes exit code 2.
    func report<Result: ChatBenchResult>(_ run: () async throws -> Result) async throws {
        let result: Result
        do {
            result = try await run()
        } catch {
            var line = "relay-bench: \(error)\n"
            line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            throw ExitCode(2)
        }
        print(json ? result.json() : result.table())
        if result.failed { throw ExitCode(1) }
    }
}
