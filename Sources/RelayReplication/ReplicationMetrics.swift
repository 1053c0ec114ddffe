import CoreMetrics
import NIOConcurrencyHelpers
import RelayCore
import RelayOps

/// The replication stream's metrics (swift-metrics, Prometheus names):
///
/// | name | kind | labels |
/// |---|---|---|
/// | `relay_replication_outbox_frames` | gauge: frames not yet acknowledged | `peer` |
/// | `relay_replication_lag_seconds` | gauge: age of the oldest unacknowledged frame | `peer` |
/// | `relay_replication_frames_shipped_total` | counter: frames the peer acknowledged | `peer` |
/// | `relay_replication_frames_applied_total` | counter: frames applied here | `origin` |
/// | `relay_replication_frames_appended_total` | counter: frames put on the outbox, by body | `peer`, `kind` |
/// | `relay_replication_peer_connected` | gauge: 1 while this node's shipper is connected | `peer` |
/// | `relay_replication_frames_quarantined_total` | counter: frames set aside as dead letters | `origin` |
/// | `relay_replication_outbox_bytes` | gauge: bytes of the frames not yet acknowledged | `peer` |
/// | `relay_replication_link_broken` | gauge: 1 while the link is broken at the outbox's cap | `peer` |
/// | `relay_replication_outbox_discarded_frames` | gauge: frames discarded since the link broke | `peer` |
/// | `relay_replication_window_bytes` | gauge: the send window (bytes that may be in flight) | `peer` |
/// | `relay_replication_batches_in_flight` | gauge: batches awaiting their PUBACK | `peer` |
public final class ReplicationMetrics: Sendable {
    private struct Peer {
        let frames: Gauge
        let lag: Gauge
        let shipped: Counter
        let connected: Gauge
        let bytes: Gauge
        let broken: Gauge
        let discarded: Gauge
        let window: Gauge
        let inFlight: Gauge
    }

    private let peers = NIOLockedValueBox<[String: Peer]>([:])
    private let appliedFrames = LabeledCounters(label: "relay_replication_frames_applied_total", dimension: "origin")
    private let quarantinedFrames = LabeledCounters(label: "relay_replication_frames_quarantined_total", dimension: "origin")
    /// Per peer, per frame kind.
    private let appendedFrames = NIOLockedValueBox<[String: [String: Counter]]>([:])

    /// Metrics made on first use of each peer and origin.
    public init() {}

    private func peer(_ name: String) -> Peer {
        peers.withLockedValue { peers in
            if let peer = peers[name] { return peer }
            let dimensions = [("peer", name)]
            let peer = Peer(
                frames: Gauge(label: "relay_replication_outbox_frames", dimensions: dimensions),
                lag: Gauge(label: "relay_replication_lag_seconds", dimensions: dimensions),
                shipped: Counter(label: "relay_replication_frames_shipped_total", dimensions: dimensions),
                connected: Gauge(label: "relay_replication_peer_connected", dimensions: dimensions),
                bytes: Gauge(label: "relay_replication_outbox_bytes", dimensions: dimensions),
                broken: Gauge(label: "relay_replication_link_broken", dimensions: dimensions),
                discarded: Gauge(label: "relay_replication_outbox_discarded_frames", dimensions: dimensions),
                window: Gauge(label: "relay_replication_window_bytes", dimensions: dimensions),
                inFlight: Gauge(label: "relay_replication_batches_in_flight", dimensions: dimensions))
            peers[name] = peer
            return peer
        }
    }

    /// The state of the link to `peer`: its outbox and its window.
    func link(_ state: ReplicationLinkState) {
        let metrics = self.peer(state.peer)
        metrics.frames.record(Double(state.frames))
        metrics.lag.record(Double(state.lagMs) / 1000)
        metrics.bytes.record(Double(state.bytes))
        metrics.broken.record(state.broken == nil ? 0 : 1)
        metrics.discarded.record(Double(state.broken?.discarded ?? 0))
        metrics.window.record(Double(state.windowBytes))
        metrics.inFlight.record(Double(state.batchesInFlight))
    }

    /// `peer` acknowledged `count` more frames.
    func shipped(_ peer: String, count: Int) {
        guard count > 0 else { return }
        self.peer(peer).shipped.increment(by: Int64(count))
    }

    /// This node's shipper to `peer` connected or lost its connection.
    func connected(_ peer: String, _ connected: Bool) {
        self.peer(peer).connected.record(connected ? 1 : 0)
    }

    /// One frame from `origin` was applied.
    func applied(_ origin: String) {
        appliedFrames.increment(origin)
    }

    /// `frames` were put on the outbox for `peer`: counted by kind, so
    /// that what a message costs on a link can be told apart.
    func appended(_ frames: [Relay_V1_Frame], to peer: String) {
        var counts: [String: Int64] = [:]
        for frame in frames { counts[frame.kindName, default: 0] += 1 }
        let counters = appendedFrames.withLockedValue { all in
            counts.map { kind, count in
                if let counter = all[peer]?[kind] { return (counter, count) }
                let counter = Counter(label: "relay_replication_frames_appended_total", dimensions: [("peer", peer), ("kind", kind)])
                all[peer, default: [:]][kind] = counter
                return (counter, count)
            }
        }
        for (counter, count) in counters { counter.increment(by: count) }
    }

    /// One frame from `origin` could never be applied and was set aside.
    func quarantined(_ origin: String) {
        quarantinedFrames.increment(origin)
    }
}
