import ArgumentParser
import Logging
import NIOCore
import Prometheus

/// How log lines are written.
public enum LogFormat: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// swift-log's `StreamLogHandler` lines, for people.
    case text
    /// One JSON object per line (`JSONLogHandler`), for machines.
    case json
}

/// Operability options of `relay serve` and `relay broker`: the HTTP
/// listener for health, readiness and metrics, and the log format.
public struct OpsOptions: ParsableArguments {
    @Option(name: .customLong("http-listen"), help: "Address for HTTP /healthz, /readyz and /metrics, HOST:PORT (none by default).")
    public var httpListen: HostPort?

    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line on standard error).")
    public var logFormat: LogFormat = .text

    public init() {}
}

extension LogSetup {
    /// Sends logs to standard error at `level`, one line per event, as text
    /// or as JSON.
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        switch format {
        case .text:
            bootstrap(level: level)
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

extension OpsOptions {
    /// Starts the HTTP listener when `--http-listen` was given.
    func startHTTP(registry: PrometheusCollectorRegistry, checks: [any ReadinessCheck], group: any EventLoopGroup,
                   fixed: [String: OpsResponse] = [:]) async throws -> OpsHTTPServer? {
        try await Self.startHTTP(listen: httpListen, registry: registry, checks: checks, group: group, fixed: fixed)
    }

    /// The HTTP endpoint on `listen`, if any (a form for `@Sendable` closures, which cannot capture the options).
    package static func startHTTP(listen: HostPort?, registry: PrometheusCollectorRegistry, checks: [any ReadinessCheck],
                          group: any EventLoopGroup, fixed: [String: OpsResponse] = [:]) async throws -> OpsHTTPServer? {
        guard let listen else { return nil }
        let endpoints = OpsEndpoints(registry: registry, checks: checks, fixed: fixed)
        return try await OpsHTTPServer.start(host: listen.host, port: listen.port, endpoints: endpoints, group: group)
    }
}
