/// What a receiver does with a batch given its cursor (the highest id it
/// has applied from the batch's origin): skip what it already applied,
/// apply the rest in order. Pure.
public struct InboundPlan: Sendable, Equatable {
    /// How many leading frames were applied already (ids ≤ cursor): skipped.
    public var skipped: Int
    /// Ids missing between the cursor and the first frame to apply. Not 0
    /// only when the origin trimmed frames this region never applied (its
    /// Redis lost writes): they cannot come back, so the receiver applies
    /// what it has and reports the gap.
    public var missing: UInt64

    /// The plan for frames with consecutive `ids` against `cursor`.
    public init(cursor: UInt64, ids: [UInt64]) {
        let skipped = ids.prefix { $0 <= cursor }.count
        self.skipped = skipped
        if skipped < ids.count, ids[skipped] > cursor + 1 {
            self.missing = ids[skipped] - cursor - 1
        } else {
            self.missing = 0
        }
    }
}
