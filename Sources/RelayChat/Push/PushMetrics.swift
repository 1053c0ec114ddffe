import CoreMetrics
import Foundation
import NIOConcurrencyHelpers

/// Push metrics (docs/push.md):
/// - `relay_pushes_sent_total{provider}`: accepted by the provider (2xx);
/// - `relay_pushes_failed_total{provider,reason}`: given up on (`gone`
///   removes the registration; `rejected_<status>`, `exhausted`,
///   `refused_address`, `no_vapid_key`, `signing`, `unconfigured`);
/// - `relay_pushes_retried_total{provider}`: tries that will be retried;
/// - `relay_pushes_coalesced_total{why}`: triggers that sent no push of their
///   own (`merged` into a pending one, `window` after one was sent,
///   `connected`: the device connected before its push went);
/// - `relay_push_auth_tokens_total{provider,result}`: APNs provider tokens
///   `signed`, FCM access tokens `granted`, either `failed`;
/// - `relay_push_latency_seconds`: from the first thing queued for the
///   offline device to the provider's 2xx.
struct PushMetrics: Sendable {
    let latency = CoreMetrics.Timer(label: "relay_push_latency_seconds")
    private let counters = NIOLockedValueBox<[String: Counter]>([:])

    func sent(_ provider: String) { count("relay_pushes_sent_total", [("provider", provider)]) }
    func failed(_ provider: String, reason: String) { count("relay_pushes_failed_total", [("provider", provider), ("reason", reason)]) }
    func retried(_ provider: String) { count("relay_pushes_retried_total", [("provider", provider)]) }
    func authToken(_ provider: String, result: String) { count("relay_push_auth_tokens_total", [("provider", provider), ("result", result)]) }
    func coalesced(_ why: String) { count("relay_pushes_coalesced_total", [("why", why)]) }

    /// Records enqueue→push for a push first due at `sinceMilliseconds`.
    func delivered(sinceMilliseconds: Int64, nowMilliseconds: Int64) {
        latency.recordNanoseconds(max(0, nowMilliseconds - sinceMilliseconds) * 1_000_000)
    }

    private func count(_ label: String, _ dimensions: [(String, String)]) {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        let counter = counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
