/// Puts deliveries of each conversation in seq order and drops duplicates.
///
/// The relay delivers at least once and in order per conversation, but a
/// redelivery after a lost link, or a message that a history sync returns, can
/// come twice or early. The orderer releases messages strictly in seq order:
/// a seq at or below the last released one, or one already held, is a
/// duplicate; a seq beyond the next expected one is held back until the
/// messages before it arrive, and the missing ranges are reported as `gaps`
/// for a history sync (`q/history.sync`). When history cannot fill a gap (the
/// messages expired), `skip(conversation:through:)` gives up on it.
///
/// A conversation not seen before starts where `firstSeen` says: by default
/// its first delivery sets the baseline (a device that joins a group late
/// gets seqs from the join on). Persist `lastReleased` and pass it to
/// `init(resumingAfter:)` to keep dedup across restarts.
///
/// Pure value type: no I/O, no clock.
public struct DeliveryOrderer<Payload> {
    /// Where an unknown conversation starts.
    public enum Baseline: Sendable, Hashable {
        /// The first delivery seen is released and sets the baseline.
        case firstSeen
        /// Seqs start at this number (at least 1); anything before is a duplicate.
        case startsAt(UInt64)
    }

    /// What `receive` did with a delivery.
    public enum Outcome {
        /// Already released or already held: dropped.
        case duplicate
        /// Held back until the gap before it is filled.
        case held
        /// These, in seq order, starting with the received one or filling up
        /// to it and beyond.
        case released([Payload])

        /// The released payloads (empty for `duplicate` and `held`).
        public var payloads: [Payload] {
            if case .released(let payloads) = self { return payloads }
            return []
        }
    }

    fileprivate struct Conversation {
        /// The highest seq released.
        var lastReleased: UInt64
        /// Out-of-order deliveries by seq, all above `lastReleased + 1`.
        var held: [UInt64: Payload] = [:]
    }

    private var conversations: [String: Conversation] = [:]
    /// How unknown conversations start.
    public let baseline: Baseline
    /// At most this many held back per conversation; past it the oldest gap is
    /// skipped so memory stays bounded (and reported by `skipped`).
    public let maximumHeld: Int
    /// Gaps given up because `maximumHeld` was reached, oldest first; cleared by `takeSkipped()`.
    public private(set) var skipped: [(conversation: String, seqs: ClosedRange<UInt64>)] = []

    /// An orderer that knows no conversation yet.
    public init(baseline: Baseline = .firstSeen, maximumHeld: Int = 10_000) {
        precondition(maximumHeld > 0)
        self.baseline = baseline
        self.maximumHeld = maximumHeld
    }

    /// An orderer that continues after the given last released seq of each conversation.
    public init(resumingAfter lastReleased: [String: UInt64], baseline: Baseline = .firstSeen,
                maximumHeld: Int = 10_000) {
        self.init(baseline: baseline, maximumHeld: maximumHeld)
        for (conversation, seq) in lastReleased {
            conversations[conversation] = Conversation(lastReleased: seq)
        }
    }

    /// The highest seq released in `conversation`, nil if none was.
    public func lastReleased(in conversation: String) -> UInt64? {
        conversations[conversation]?.lastReleased
    }

    /// The highest seq released per conversation, to persist.
    public var lastReleasedByConversation: [String: UInt64] {
        conversations.mapValues(\.lastReleased)
    }

    /// How many deliveries are held back in `conversation`.
    public func heldCount(in conversation: String) -> Int {
        conversations[conversation]?.held.count ?? 0
    }

    /// The missing seq ranges of `conversation`, in order: between the last
    /// released seq and the first held one, and between held ones.
    public func gaps(in conversation: String) -> [ClosedRange<UInt64>] {
        guard let state = conversations[conversation], !state.held.isEmpty else { return [] }
        var gaps: [ClosedRange<UInt64>] = []
        var expected = state.lastReleased + 1
        for seq in state.held.keys.sorted() {
            if seq > expected { gaps.append(expected...(seq - 1)) }
            expected = seq + 1
        }
        return gaps
    }

    /// Every conversation's gaps (conversations without gaps are left out).
    public var gaps: [String: [ClosedRange<UInt64>]] {
        var all: [String: [ClosedRange<UInt64>]] = [:]
        for conversation in conversations.keys {
            let gaps = gaps(in: conversation)
            if !gaps.isEmpty { all[conversation] = gaps }
        }
        return all
    }

    /// Takes in one delivery and says what it released.
    public mutating func receive(_ payload: Payload, conversation: String, seq: UInt64) -> Outcome {
        guard var state = conversations[conversation] else {
            switch baseline {
            case .firstSeen:
                conversations[conversation] = Conversation(lastReleased: seq)
                return .released([payload])
            case .startsAt(let first):
                guard seq >= first else { return .duplicate }
                conversations[conversation] = Conversation(lastReleased: max(first, 1) - 1)
                return receive(payload, conversation: conversation, seq: seq)
            }
        }
        if seq <= state.lastReleased || state.held[seq] != nil { return .duplicate }
        if seq != state.lastReleased + 1 {
            state.held[seq] = payload
            if state.held.count > maximumHeld {
                // Give up the oldest gap: release up to and past the lowest held seq.
                let lowest = state.held.keys.min()!
                skipped.append((conversation, (state.lastReleased + 1)...(lowest - 1)))
                state.lastReleased = lowest - 1
                let released = Self.drain(&state)
                conversations[conversation] = state
                return .released(released)
            }
            conversations[conversation] = state
            return .held
        }
        state.lastReleased = seq
        let released = [payload] + Self.drain(&state)
        conversations[conversation] = state
        return .released(released)
    }

    /// Gives up on everything missing up to `seq` in `conversation` (history
    /// could not fill it) and releases what was held after it, in order.
    public mutating func skip(conversation: String, through seq: UInt64) -> [Payload] {
        guard var state = conversations[conversation] else {
            conversations[conversation] = Conversation(lastReleased: seq)
            return []
        }
        guard seq > state.lastReleased else { return [] }
        var released: [Payload] = []
        for held in state.held.keys.sorted() where held <= seq {
            released.append(state.held.removeValue(forKey: held)!)
        }
        state.lastReleased = seq
        released += Self.drain(&state)
        conversations[conversation] = state
        return released
    }

    /// Returns and clears `skipped`.
    public mutating func takeSkipped() -> [(conversation: String, seqs: ClosedRange<UInt64>)] {
        defer { skipped.removeAll() }
        return skipped
    }

    /// Releases held deliveries that now follow `lastReleased` without a gap.
    private static func drain(_ state: inout Conversation) -> [Payload] {
        var released: [Payload] = []
        while let next = state.held.removeValue(forKey: state.lastReleased + 1) {
            released.append(next)
            state.lastReleased += 1
        }
        return released
    }
}

extension DeliveryOrderer: Sendable where Payload: Sendable {}
extension DeliveryOrderer.Conversation: Sendable where Payload: Sendable {}
extension DeliveryOrderer.Outcome: Sendable where Payload: Sendable {}
