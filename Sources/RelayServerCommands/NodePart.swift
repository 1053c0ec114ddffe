import Logging
import ServiceLifecycle

/// One part of a `relay` process (the MQTT listeners, the peer listener,
/// the HTTP endpoint, background timers...) as a swift-service-lifecycle
/// `Service`: started when the process's `ServiceGroup` runs it, stopped
/// when the group shuts down gracefully (SIGTERM or SIGINT, or another part
/// failed or ended), the group stopping parts in the reverse of their
/// order.
///
/// A part whose start throws is not stopped (it did not start); the group
/// then stops the parts that did, so a process that fails half-way through
/// its start leaves nothing running.
struct NodePart: Service, CustomStringConvertible {
    let name: String
    private let start: @Sendable () async throws -> Void
    private let stop: @Sendable () async -> Void

    /// A part called `name` that `start`s, and `stop`s at the group's shutdown.
    init(_ name: String, start: @escaping @Sendable () async throws -> Void, stop: @escaping @Sendable () async -> Void) {
        self.name = name
        self.start = start
        self.stop = stop
    }

    var description: String { name }

    func run() async throws {
        try await start()
        // Returns at the group's graceful shutdown; throws when the group is
        // cancelled instead: the part stops either way.
        try? await gracefulShutdown()
        await stop()
    }

    /// Runs `parts` until SIGTERM or SIGINT (or a part failing), then stops
    /// them in reverse order; rethrows the first failure.
    static func runGroup(_ parts: [NodePart], logger: Logger) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: parts.map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: $0.name)
            },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
