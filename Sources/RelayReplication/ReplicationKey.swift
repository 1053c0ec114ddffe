import RelayStore

/// Redis keys and channels of the replication stream.
///
/// A region's outbox to peer P lives in the region's own Redis under the
/// hash tag `{r:P}` (one slot per outbox); the cursor of frames applied from
/// origin R is `r:in:<R>` in the receiving region's Redis, beside the lease
/// `{r:in:<R>}:lease` of the node applying them.
public enum ReplicationKey {
    /// `{r:<peer>}`.
    public static func tag(_ peer: String) -> String { "{r:\(peer)}" }
    /// `{r:<peer>}:n`: the last id given to a frame for `peer`.
    public static func counter(_ peer: String) -> String { tag(peer) + ":n" }
    /// `{r:<peer>}:out`: the stream of frames not yet acknowledged by `peer`.
    public static func stream(_ peer: String) -> String { tag(peer) + ":out" }
    /// `{r:<peer>}:acked`: the highest id `peer` acknowledged.
    public static func acknowledged(_ peer: String) -> String { tag(peer) + ":acked" }
    /// `{r:<peer>}:bytes`: hash of bytes appended (`in`) and acknowledged (`acked`).
    public static func bytes(_ peer: String) -> String { tag(peer) + ":bytes" }
    /// `{r:<peer>}:broken`: present while the link is broken at the outbox's cap.
    public static func broken(_ peer: String) -> String { tag(peer) + ":broken" }
    /// `{r:<peer>}:lease`: the node of this region that ships to `peer`.
    public static func lease(_ peer: String) -> String { tag(peer) + ":lease" }
    /// `r:in:<origin>`: the highest id applied from `origin` (receiver side).
    public static func inbound(_ origin: String) -> String { "r:in:\(origin)" }
    /// `{r:in:<origin>}:lease`: the node of this region that applies
    /// `origin`'s frames (receiver side). Its hash tag is the whole name
    /// of ``inbound(_:)``, so both keys share a slot on a Redis Cluster.
    public static func inboundLease(_ origin: String) -> String { "{\(inbound(origin))}:lease" }
    /// `r:<peer>`: Pub/Sub channel waking the region's shipper to `peer`:
    /// `n<id>` after an append, `a<id>` after an acknowledgement, `b<id>`
    /// when an append broke the link at the cap, `r<id>` after a reset.
    public static func channel(_ peer: String) -> String { "r:\(peer)" }
}
