import ArgumentParser
import Logging
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayOps

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
        let listeners = try engine.listeners()
        let httpListen = ops.httpListen
        let http = NIOLockedValueBox<OpsHTTPServer?>(nil)
        let parts = [
            NodePart("mqtt", start: {
                for listener in try await server.start(listeners) {
                    StandardOutput.writeLine("relay broker listening on \(listener.url)")
                }
            }, stop: {
                await server.shutdown()
            }),
            NodePart("http", start: {
                let started = try await OpsOptions.startHTTP(listen: httpListen, registry: metrics, checks: [], group: group)
                http.withLockedValue { $0 = started }
                if let started { StandardOutput.writeLine("relay broker http on \(started.url)") }
            }, stop: {
                await http.withLockedValue { $0 }?.close()
            }),
        ]
        let outcome: Result<Void, any Error>
        do {
            try await NodePart.runGroup(parts, logger: logger)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        logger.info("stopping")
        try await group.shutdownGracefully()
        try outcome.get()
    }
}
