import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore

/// The chat send path's metrics, created once per router from the process's
/// `MetricsSystem`:
/// - `relay_sends_accepted_total`: sends stored and sequenced (PUBACK 0x00);
/// - `relay_sends_refused_total{reason}`: refused sends by their stable
///   error code (`rate_limited`, `too_large`, `not_member`, …);
/// - `relay_send_ack_duration_seconds`: from the PUBLISH reaching the router
///   to its PUBACK reason code being decided;
/// - `relay_fanout_devices`: devices a message is marked for (the sender's
///   own device excluded).
struct ChatMetrics: Sendable {
    let accepted = Counter(label: "relay_sends_accepted_total")
    let ackLatency = CoreMetrics.Timer(label: "relay_send_ack_duration_seconds")
    let fanOut = Recorder(label: "relay_fanout_devices")
    /// One counter per refusal reason, made on first use (reasons are the
    /// chat protocol's error codes, a small fixed set).
    private let refusals = NIOLockedValueBox<[String: Counter]>([:])

    /// Counts a refused send.
    func refused(_ reason: String) {
        let counter = refusals.withLockedValue { counters in
            if let counter = counters[reason] { return counter }
            let counter = Counter(label: "relay_sends_refused_total", dimensions: [("reason", reason)])
            counters[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// Records the send→PUBACK time of `future` (started at `start`).
    func timeAck(_ future: EventLoopFuture<some Sendable>, since start: NIODeadline) {
        let timer = ackLatency
        future.whenComplete { _ in
            timer.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
        }
    }
}
