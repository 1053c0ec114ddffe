/// What a receiver does with a batch given its cursor (the highest id it
/// has applied from the batch's origin): skip what it already applied,
/// apply the rest in order, and never step over a frame the origin can
/// still send. Pure.
public struct InboundPlan: Sendable, Equatable {
    /// How many leading frames were applied already (ids ≤ cursor): skipped.
    public var skipped: Int
    /// Ids missing between the cursor and the first frame to apply that
    /// the origin no longer has: it trimmed them as acknowledged, so this
    /// region's Redis lost writes (or an operator reset the link). They
    /// cannot come back; the receiver applies what it has and reports them.
    public var missing: UInt64
    /// Ids between the cursor and the first frame that the origin still
    /// holds (an earlier batch of a pipelined link failed or is not here
    /// yet): the batch is refused, and the origin ships again from its
    /// acknowledged id. Nil when there is no such gap.
    public var gap: ClosedRange<UInt64>?

    /// The plan for frames with consecutive `ids` against `cursor`, when
    /// the origin had acknowledged up to `originAcknowledged` as it shipped
    /// them (nil from an origin that does not say: a stop-and-wait shipper,
    /// which only ever ships right after what it acknowledged).
    public init(cursor: UInt64, ids: [UInt64], originAcknowledged: UInt64? = nil) {
        let skipped = ids.prefix { $0 <= cursor }.count
        self.skipped = skipped
        self.missing = 0
        self.gap = nil
        guard skipped < ids.count, ids[skipped] > cursor + 1 else { return }
        let lastMissing = ids[skipped] - 1
        let trimmed = originAcknowledged ?? lastMissing
        if trimmed >= lastMissing {
            missing = lastMissing - cursor
        } else {
            gap = max(cursor, trimmed) + 1 ... lastMissing
        }
    }
}
