/// Where a message sits in its conversation: the home region's epoch and the
/// sequence number within it, ordered by epoch then seq.
///
/// A failover continues a conversation under a higher epoch, so a position
/// in a later epoch is later whatever its seq.
public struct MessagePosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The conversation's epoch (raised by each failover of its home region).
    public var epoch: UInt32
    /// The sequence number within the epoch; messages start at 1.
    public var seq: UInt64

    /// The position `seq` in `epoch`.
    public init(epoch: UInt32, seq: UInt64) {
        self.epoch = epoch
        self.seq = seq
    }

    /// Epoch first, then seq.
    public static func < (lhs: MessagePosition, rhs: MessagePosition) -> Bool {
        (lhs.epoch, lhs.seq) < (rhs.epoch, rhs.seq)
    }

    /// `epoch:seq`.
    public var description: String { "\(epoch):\(seq)" }
}
