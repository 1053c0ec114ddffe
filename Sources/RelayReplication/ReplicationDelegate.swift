import NIOCore
import RelayCore

/// The seam between the replication transport and the chat side: the
/// transport moves frames between regions in order and at least once; the
/// delegate gives them meaning.
///
/// Every method may be called from any thread; none may block.
public protocol ReplicationDelegate: Sendable {
    /// Applies one frame that `origin` shipped to this region. Must be
    /// idempotent: after a crash on either side a frame may be applied again
    /// (never out of order, never skipped). A failed future means "not
    /// applied, retry later": the transport stops the batch there and the
    /// origin ships the frame again.
    func apply(_ frame: Relay_V1_Frame, from origin: String, on loop: any EventLoop) -> EventLoopFuture<Void>

    /// This region's view of every region's authority, piggybacked on each
    /// batch this region ships and on each PUBACK its peer listener sends.
    func regionStates() -> [Relay_V1_RegionState]

    /// Merges `peer`'s view of every region's authority (from a batch it
    /// shipped, or from its PUBACK to one of ours).
    func learn(_ states: [Relay_V1_RegionState], from peer: String)

    /// A heartbeat from `origin` (automatic failover): merge its states,
    /// record its contacts, and say whether this region grants `origin` its
    /// write lease.
    func heartbeat(_ heartbeat: Relay_V1_Heartbeat, from origin: String) -> Bool
}

extension ReplicationDelegate {
    /// Without automatic failover: the states are learnt, the lease granted.
    public func heartbeat(_ heartbeat: Relay_V1_Heartbeat, from origin: String) -> Bool {
        if !heartbeat.regions.isEmpty { learn(heartbeat.regions, from: origin) }
        return true
    }
}
