import NIOCore
import Synchronization

/// Flow control from subscribers back to publishers. Counts the deliveries a
/// session's publishes have made that are not yet written to their
/// subscribers (on their way to another event loop, or waiting in a
/// subscriber's queue). Past `high` the publisher stops reading from its
/// socket; once the count falls to `low` it is woken and reads again (and
/// in any case after `maximumPause`, so that no subscriber can stall a
/// publisher for long). A subscriber whose queue is past its soft limit is
/// slow: deliveries to it stop holding credit and meet its queue cap instead.
///
/// Without it a publisher can outrun a subscriber served by a busier event
/// loop: messages pile up in the subscriber's queue, latency grows without
/// bound and, at the queue cap, QoS 1 messages are dropped.
///
/// Not copyable: it lives inside its session's object (no allocation of
/// its own), and tickets reach it through the session.
struct DeliveryCredit: ~Copyable, Sendable {
    static let high = 256
    static let low = 64
    static let maximumPause = TimeAmount.milliseconds(100)

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

/// The credit one delivery holds until it is written to its subscriber or
/// given up (dropped, queued for a slow or offline subscriber).
struct CreditTicket: Sendable {
    let publisher: MQTTSession

    /// Returns the credit; wakes the publisher when it was waiting for it.
    func release() {
        if publisher.credit.release() { publisher.resumeReading() }
    }
}
