/// A sequence number the relay can store: 1 through ``maximum``.
///
/// Seqs come off the wire as `uint64` (`Receipt.read_up_to_seq`,
/// `Send.reply_to_seq`, replication frames) and go into Redis, whose Lua
/// numbers are doubles: integers are exact only up to 2^53, and a Redis
/// integer argument is a signed 64-bit value. A seq past 2^53 can never have
/// been assigned (a conversation would need 2^53 messages), so such a value
/// is refused at the edge instead of being converted with a trapping
/// `Int64(_:)` deeper in.
public struct Seq: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The largest seq: 2^53, the last integer a Lua number holds exactly.
    public static let maximum: UInt64 = 1 << 53

    /// The seq, 1 through ``maximum``.
    public let value: UInt64

    /// The seq `wire`, or nil when it is 0 or past ``maximum``.
    public init?(_ wire: UInt64) {
        guard wire >= 1, wire <= Self.maximum else { return nil }
        self.value = wire
    }

    /// The seq as a Redis integer argument; exact, since ``value`` is at most 2^53.
    public var int64: Int64 { Int64(truncatingIfNeeded: value) }

    /// An optional seq field (`reply_to_seq`, a cursor) where 0 means none:
    /// nil for 0, the seq for 1 through ``maximum``; throws past it.
    public static func optional(_ wire: UInt64) throws(SeqOutOfRange) -> Seq? {
        if wire == 0 { return nil }
        guard let seq = Seq(wire) else { throw SeqOutOfRange(value: wire) }
        return seq
    }

    /// Ordered by value.
    public static func < (lhs: Seq, rhs: Seq) -> Bool { lhs.value < rhs.value }

    /// The number.
    public var description: String { "\(value)" }
}

/// A seq past ``Seq/maximum``.
public struct SeqOutOfRange: Error, Hashable, Sendable, CustomStringConvertible {
    /// The value received.
    public var value: UInt64

    /// What is wrong, for an error message.
    public var description: String { "seq \(value) is out of range (1 to \(Seq.maximum))" }
}
