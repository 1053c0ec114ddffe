import Synchronization

/// Backpressure between event loops. Counts the deliveries a session's
/// publishes have dispatched to other event loops that those loops have not
/// yet handed to their connections. Past `high` the publisher stops reading
/// from its socket; once the count falls to `low` it is woken and reads again.
/// Without it a publisher on one loop can bury a subscriber's loop in
/// delivery tasks, starving that loop's reads (its client's PUBACKs) until
/// the subscriber's bounded queue overflows.
final class DeliveryCredit: Sendable {
    static let high = 512
    static let low = 128

    private let outstanding = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)

    /// One more delivery is on its way to another loop.
    func acquire() {
        outstanding.wrappingAdd(1, ordering: .relaxed)
    }

    /// A delivery arrived. Returns true when the caller must wake the
    /// publisher (exactly one caller gets true per pause).
    func release() -> Bool {
        let now = outstanding.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        return now <= Self.low && paused.load(ordering: .acquiring) && paused.exchange(false, ordering: .acquiringAndReleasing)
    }

    /// Whether the publisher should stop reading now.
    var isExhausted: Bool {
        outstanding.load(ordering: .relaxed) > Self.high
    }

    /// Marks the publisher paused. Returns false when the deliveries drained
    /// meanwhile, so that it must not pause after all.
    func pause() -> Bool {
        paused.store(true, ordering: .releasing)
        if outstanding.load(ordering: .acquiring) <= Self.low && paused.exchange(false, ordering: .acquiringAndReleasing) {
            return false
        }
        return true
    }
}
