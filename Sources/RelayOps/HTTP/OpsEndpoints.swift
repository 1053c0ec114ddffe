import Foundation
import NIOCore
import NIOHTTP1
import Prometheus

/// An answer of the operability endpoints.
public struct OpsResponse: Sendable {
    /// HTTP status.
    public var status: HTTPResponseStatus
    /// `Content-Type` of `body`.
    public var contentType: String
    /// The body bytes.
    public var body: [UInt8]

    /// A plain-text answer.
    public static func text(_ status: HTTPResponseStatus, _ text: String) -> OpsResponse {
        OpsResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }
}

/// What `/healthz`, `/readyz` and `/metrics` answer, apart from sockets.
///
/// - `GET /healthz`: 200 `ok` while the process serves HTTP at all.
/// - `GET /readyz`: 200 when every `ReadinessCheck` passes within
///   `readinessTimeout`, else 503; the body is JSON in both cases:
///   `{"ready":false,"checks":{"redis":{"ready":false,"detail":"…"}}}`.
/// - `GET /metrics`: the Prometheus registry in text format 0.0.4.
/// - Any other path: 404; another method on a known path: 405.
public struct OpsEndpoints: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let checks: [any ReadinessCheck]
    private let readinessTimeout: TimeAmount
    /// Fixed answers at further paths (`/push/vapid`, docs/push.md).
    private let fixed: [String: OpsResponse]

    /// Endpoints over `registry` and `checks`, and `fixed` answers by path.
    public init(registry: PrometheusCollectorRegistry, checks: [any ReadinessCheck], readinessTimeout: TimeAmount = .seconds(1),
                fixed: [String: OpsResponse] = [:]) {
        self.registry = registry
        self.checks = checks
        self.readinessTimeout = readinessTimeout
        self.fixed = fixed
    }

    /// The body of `/readyz`.
    struct Readiness: Codable, Equatable {
        var ready: Bool
        var checks: [String: ReadinessResult]
    }

    /// Answers one request.
    public func respond(method: HTTPMethod, uri: String, on eventLoop: any EventLoop) -> EventLoopFuture<OpsResponse> {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard ["/healthz", "/readyz", "/metrics"].contains(path) || fixed[path] != nil else {
            return eventLoop.makeSucceededFuture(.text(.notFound, "not found\n"))
        }
        guard method == .GET || method == .HEAD else {
            return eventLoop.makeSucceededFuture(.text(.methodNotAllowed, "method not allowed\n"))
        }
        if let answer = fixed[path] { return eventLoop.makeSucceededFuture(answer) }
        switch path {
        case "/healthz":
            return eventLoop.makeSucceededFuture(.text(.ok, "ok\n"))
        case "/metrics":
            return eventLoop.makeSucceededFuture(OpsResponse(
                status: .ok,
                contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: registry.emitToBuffer()
            ))
        default:
            return readiness(on: eventLoop)
        }
    }

    private func readiness(on eventLoop: any EventLoop) -> EventLoopFuture<OpsResponse> {
        let timeout = readinessTimeout
        let futures = checks.map { check in
            check.check(on: eventLoop, timeout: timeout).map { (check.name, $0) }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { results in
            let body = Readiness(ready: results.allSatisfy { $0.1.ready }, checks: Dictionary(results, uniquingKeysWith: { first, _ in first }))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let bytes = (try? encoder.encode(body)).map { Array($0) + [UInt8(ascii: "\n")] } ?? Array("{}\n".utf8)
            return OpsResponse(status: body.ready ? .ok : .serviceUnavailable, contentType: "application/json", body: bytes)
        }
    }
}
