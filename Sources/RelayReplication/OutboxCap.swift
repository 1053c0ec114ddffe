/// The cap on one outbox (decision 0015): how much a region holds for a
/// peer that does not acknowledge. An append that would take the outbox
/// past either bound breaks the link instead (``OutboxBreak``).
public struct OutboxCap: Sendable, Equatable {
    /// Frames held at most; 0 for no bound.
    public var maximumFrames: UInt64
    /// Bytes of serialized frames held at most; 0 for no bound.
    public var maximumBytes: UInt64

    /// The default frame bound: 4,000,000 frames, over two hours of the
    /// busiest link measured (about 500 frames/s at 100 msgs/s, BENCHMARKS.md).
    public static let defaultFrames: UInt64 = 4_000_000
    /// The default byte bound: 1 GiB of frames (about twice that in Redis
    /// memory with the stream's overhead), per link.
    public static let defaultBytes: UInt64 = 1 << 30

    /// A cap with every bound given (the defaults otherwise).
    public init(maximumFrames: UInt64 = OutboxCap.defaultFrames, maximumBytes: UInt64 = OutboxCap.defaultBytes) {
        self.maximumFrames = maximumFrames
        self.maximumBytes = maximumBytes
    }
}

/// A link broken at its outbox's cap (the hash `{r:<peer>}:broken`): the
/// frames held were discarded, and every frame appended since is too,
/// until an operator resets the link (`relayctl outbox reset`) once the
/// peer has been re-seeded.
public struct OutboxBreak: Sendable, Equatable, Codable {
    /// When it broke (ms since the Unix epoch).
    public var atMs: Int64
    /// Frames held (and discarded) when it broke.
    public var frames: UInt64
    /// Their bytes.
    public var bytes: UInt64
    /// The highest id the peer had acknowledged when it broke.
    public var acknowledged: UInt64
    /// Frames discarded in all: those held, and those appended since.
    public var discarded: UInt64

    /// A break with every field given.
    public init(atMs: Int64, frames: UInt64, bytes: UInt64, acknowledged: UInt64, discarded: UInt64) {
        self.atMs = atMs
        self.frames = frames
        self.bytes = bytes
        self.acknowledged = acknowledged
        self.discarded = discarded
    }

    /// Parses the `{r:<peer>}:broken` hash (HGETALL's flat list); nil when
    /// it is empty (the link is not broken).
    static func parse(_ fields: [String: String]) -> OutboxBreak? {
        guard !fields.isEmpty else { return nil }
        func number(_ key: String) -> UInt64 { fields[key].flatMap { UInt64($0) } ?? 0 }
        return OutboxBreak(
            atMs: fields["at"].flatMap { Int64($0) } ?? 0, frames: number("frames"), bytes: number("bytes"),
            acknowledged: number("after"), discarded: number("discarded"))
    }
}

/// What ``Outbox/reset(peer:on:)`` did.
public struct OutboxReset: Sendable, Equatable, Codable {
    /// False when the link was not broken (nothing changed).
    public var wasBroken: Bool
    /// Shipping resumes after this id: the frames up to it that the peer
    /// never acknowledged are given up.
    public var resumesAfter: UInt64
    /// Frames the peer will never get.
    public var discarded: UInt64

    /// A reset with every field given.
    public init(wasBroken: Bool, resumesAfter: UInt64, discarded: UInt64) {
        self.wasBroken = wasBroken
        self.resumesAfter = resumesAfter
        self.discarded = discarded
    }
}
