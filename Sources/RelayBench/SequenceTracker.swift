/// What one subscriber saw of its publisher's sequence (pure bookkeeping).
///
/// The publisher numbers messages 0, 1, 2, ... A message whose number is
/// not above the highest seen so far is out of order (a late or duplicated
/// delivery); the count of messages sent minus received is the loss.
struct SequenceTracker {
    private(set) var received: UInt64 = 0
    private(set) var outOfOrder: UInt64 = 0
    /// Messages whose payload was too short to carry a timestamp and sequence.
    private(set) var malformed: UInt64 = 0
    private(set) var latency = LatencyHistogram()
    /// The highest sequence number seen plus one; nil before the first message.
    private var nextExpected: UInt64?
    /// Messages numbered below this belong to an earlier phase and are ignored.
    private var floor: UInt64 = 0
    /// Messages of an earlier phase that arrived late.
    private(set) var stale: UInt64 = 0

    /// Forgets everything; messages numbered below `firstSequence` are ignored from now on.
    mutating func reset(firstSequence: UInt64) {
        self = SequenceTracker()
        floor = firstSequence
    }

    /// Records one delivery. Returns false when it was not counted (stale or malformed).
    @discardableResult
    mutating func record(sequence: UInt64, sentAt: UInt64, now: UInt64) -> Bool {
        guard sequence >= floor else {
            stale += 1
            return false
        }
        received += 1
        latency.record(now >= sentAt ? now - sentAt : 0)
        if let expected = nextExpected, sequence < expected {
            outOfOrder += 1
        } else {
            nextExpected = sequence + 1
        }
        return true
    }

    mutating func recordMalformed() {
        malformed += 1
    }
}
