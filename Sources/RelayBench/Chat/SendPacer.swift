/// Open-loop pacing for one sender: how many messages are due by a given
/// time at a fixed rate, the first one at `start`. The sender writes what is
/// due (less what a window holds back); what it could not write is
/// `behind`, the sign of a rate the relay does not sustain.
public struct SendPacer: Sendable, Hashable {
    /// Messages per second; must be positive.
    public let rate: Double
    /// Monotonic nanoseconds of the first send.
    public let start: UInt64

    /// A pacer at `rate` messages per second from `start`.
    public init(rate: Double, start: UInt64) {
        precondition(rate > 0, "a pacer needs a positive rate")
        self.rate = rate
        self.start = start
    }

    /// Messages due by `now`: one at `start`, then one every 1/rate seconds.
    public func due(at now: UInt64) -> UInt64 {
        guard now >= start else { return 0 }
        return UInt64((Double(now - start) / 1e9 * rate).rounded(.down)) + 1
    }

    /// How many to write now, given `sent` so far and `room` left in the window.
    public func toSend(at now: UInt64, sent: UInt64, room: Int) -> Int {
        let due = due(at: now)
        guard due > sent, room > 0 else { return 0 }
        return Int(min(due - sent, UInt64(room)))
    }
}
