import ArgumentParser
import Logging
import MQTTServer
import NIOCore
import NIOPosix

/// `relay broker`: the MQTT engine with the in-memory standard pub/sub
/// router, a plain MQTT 3.1.1/5.0 broker and the edge's conformance and
/// performance baseline.
public struct BrokerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the relay's MQTT engine as a generic MQTT broker."
    )

    @OptionGroup var engine: EngineOptions
    @OptionGroup var ops: OpsOptions

    public init() {}

    public func run() async throws {
        LogSetup.bootstrap(level: engine.logLevel, format: ops.logFormat)
        let metrics = MetricsSetup.bootstrapPrometheus()
        let logger = Logger(label: "relay.broker")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: engine.threads ?? System.coreCount)
        let server = MQTTServer(configuration: engine.configuration, router: InMemoryRouter(), group: group, logger: logger)
        let bound = try await server.start(try engine.listeners())
        for listener in bound {
            StandardOutput.writeLine("relay broker listening on \(listener.url)")
        }
        let http = try await ops.startHTTP(registry: metrics, checks: [], group: group)
        if let http { StandardOutput.writeLine("relay broker http on \(http.url)") }
        let signal = await TerminationSignal.wait()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        await http?.close()
        await server.shutdown()
        try await group.shutdownGracefully()
    }
}
