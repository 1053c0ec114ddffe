import Foundation
import NIOCore
import NIOEmbedded
import Prometheus
import RelayOps
import Synchronization
import Testing

/// A check that answers what it is told, or never.
private struct FixedCheck: ReadinessCheck {
    var name: String
    var result: ReadinessResult?

    func check(on eventLoop: any EventLoop) -> EventLoopFuture<ReadinessResult> {
        guard let result else { return eventLoop.makePromise(of: ReadinessResult.self).futureResult }
        return eventLoop.makeSucceededFuture(result)
    }
}

@Suite struct OpsEndpointsTests {
    private static func body(_ response: OpsResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    private static func readiness(_ response: OpsResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func pathsAndMethods() throws {
        let loop = EmbeddedEventLoop()
        let endpoints = OpsEndpoints(registry: PrometheusCollectorRegistry(), checks: [])
        let health = try endpoints.respond(method: .GET, uri: "/healthz", on: loop).wait()
        #expect(health.status == .ok && Self.body(health) == "ok\n")
        #expect(try endpoints.respond(method: .GET, uri: "/healthz?x=1", on: loop).wait().status == .ok)
        #expect(try endpoints.respond(method: .GET, uri: "/other", on: loop).wait().status == .notFound)
        #expect(try endpoints.respond(method: .POST, uri: "/metrics", on: loop).wait().status == .methodNotAllowed)
        #expect(try endpoints.respond(method: .DELETE, uri: "/nope", on: loop).wait().status == .notFound)
    }

    @Test func metricsInPrometheusTextFormat() throws {
        let loop = EmbeddedEventLoop()
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "relay", metricName: "test", unitName: "total", helpText: "a test counter")).increment(by: Int64(2))
        let response = try OpsEndpoints(registry: registry, checks: []).respond(method: .GET, uri: "/metrics", on: loop).wait()
        #expect(response.status == .ok)
        #expect(response.contentType.hasPrefix("text/plain; version=0.0.4"))
        #expect(Self.body(response).contains("relay_test_total 2"))
    }

    @Test func readyOnlyWhenEveryCheckPasses() throws {
        let loop = EmbeddedEventLoop()
        let good = FixedCheck(name: "redis", result: .ready("PONG"))
        let bad = FixedCheck(name: "peers", result: .notReady("eu: 40 s behind"))
        let ready = try OpsEndpoints(registry: .init(), checks: [good]).respond(method: .GET, uri: "/readyz", on: loop).wait()
        #expect(ready.status == .ok)
        #expect(try Self.readiness(ready)["ready"] as? Bool == true)
        let notReady = try OpsEndpoints(registry: .init(), checks: [good, bad]).respond(method: .GET, uri: "/readyz", on: loop).wait()
        #expect(notReady.status == .serviceUnavailable)
        let checks = try #require(try Self.readiness(notReady)["checks"] as? [String: [String: Any]])
        #expect(checks["peers"]?["detail"] as? String == "eu: 40 s behind")
        #expect(checks["redis"]?["ready"] as? Bool == true)
    }

    @Test func aCheckThatDoesNotAnswerTimesOut() throws {
        let loop = EmbeddedEventLoop()
        let endpoints = OpsEndpoints(registry: .init(), checks: [FixedCheck(name: "redis", result: nil)], readinessTimeout: .milliseconds(500))
        let future = endpoints.respond(method: .GET, uri: "/readyz", on: loop)
        loop.advanceTime(by: .milliseconds(499))
        let answered = AnsweredFlag()
        future.whenComplete { _ in answered.set() }
        #expect(!answered.value, "no answer before the timeout")
        loop.advanceTime(by: .milliseconds(1))
        let response = try future.wait()
        #expect(response.status == .serviceUnavailable)
        let checks = try #require(try Self.readiness(response)["checks"] as? [String: [String: Any]])
        #expect(checks["redis"]?["detail"] as? String == "no answer within 500 ms")
    }
}

/// A flag set from a future's callback, readable from the test.
final class AnsweredFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var value: Bool { flag.withLock { $0 } }
}
