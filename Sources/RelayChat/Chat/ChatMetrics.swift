import CoreMetrics
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RelayOps

/// The chat send path's metrics, created once per router from the process's
/// `MetricsSystem`:
/// - `relay_sends_accepted_total`: sends stored and sequenced (PUBACK 0x00);
/// - `relay_sends_refused_total{reason}`: refused sends by their stable
///   error code (`rate_limited`, `too_large`, `not_member`, …);
/// - `relay_send_ack_duration_seconds`: from the PUBLISH reaching the router
///   to its PUBACK reason code being decided;
/// - `relay_fanout_devices`: devices a message is marked for (the sender's
///   own device excluded);
/// - `relay_fanouts_quarantined_total`: pending fan-outs the sweeper set
///   aside as dead letters (they can never be finished).
struct ChatMetrics: Sendable {
    let accepted = Counter(label: "relay_sends_accepted_total")
    let fanOutQuarantined = Counter(label: "relay_fanouts_quarantined_total")
    let ackLatency = CoreMetrics.Timer(label: "relay_send_ack_duration_seconds")
    let fanOut = Recorder(label: "relay_fanout_devices")
    /// One counter per refusal reason (the chat protocol's error codes, a small fixed set).
    private let refusals = LabeledCounters(label: "relay_sends_refused_total", dimension: "reason")

    /// Counts a refused send.
    func refused(_ reason: String) {
        refusals.increment(reason)
    }

    /// Records the send→PUBACK time of `future` (started at `start`).
    func timeAck(_ future: EventLoopFuture<some Sendable>, since start: NIODeadline) {
        let timer = ackLatency
        future.whenComplete { _ in
            timer.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
        }
    }
}

/// The delivery side's metrics, recorded by each `DevicePump`:
/// - `relay_send_delivery_duration_seconds`: from a send's accept time (the
///   stored message's `t`, milliseconds since 1970 on the accepting node's
///   clock, so it reads up to 1 ms long) to the recipient device's PUBACK
///   of its `Delivery`. A device that was offline adds its offline time,
///   and a redelivery after a reconnect counts again;
/// - `relay_device_queue_depth`: messages waiting for one device (past its
///   cursors in the conversations marked for it, those in flight included),
///   sampled each time its pump reads its backlog, so a busy device is
///   sampled more often than an idle one.
struct DeliveryMetrics: Sendable {
    let deliveryLatency = CoreMetrics.Timer(label: "relay_send_delivery_duration_seconds")
    let queueDepth = Recorder(label: "relay_device_queue_depth")

    /// Records the send→delivery time of a message accepted at
    /// `acceptedAtMilliseconds`; a negative span (clocks of two nodes
    /// apart) counts as 0.
    func delivered(acceptedAtMilliseconds: Int64, now: Date = Date()) {
        let nanoseconds = Int64(now.timeIntervalSince1970 * 1e9) - acceptedAtMilliseconds * 1_000_000
        deliveryLatency.recordNanoseconds(max(0, nanoseconds))
    }

    /// Records one device's backlog, read by its pump.
    func backlog(_ messages: Int) {
        queueDepth.record(messages)
    }
}
