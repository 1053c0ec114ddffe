import Testing

@testable import RelayCore

@Suite struct QueueCapPolicyTests {
    let day: Int64 = 24 * 3600 * 1000

    func messages(_ count: Int, bytes: Int = 10, startingAt start: Int64 = 0, every step: Int64 = 1) -> [QueuedMessageSize] {
        (0..<count).map { QueuedMessageSize(bytes: bytes, enqueuedAtMilliseconds: start + Int64($0) * step) }
    }

    @Test func defaults() {
        let caps = QueueCaps()
        #expect(caps.maximumMessages == 10_000)
        #expect(caps.maximumAgeMilliseconds == 30 * day)
        #expect(caps.maximumBytes == 64 * 1024 * 1024)
    }

    @Test func withinCapsDropsNothing() {
        let policy = QueueCapPolicy()
        let usage = QueueUsage(count: 10_000, bytes: 100_000, oldestEnqueuedAtMilliseconds: 0)
        #expect(policy.exceededCaps(usage, nowMilliseconds: 30 * day).isEmpty)
        #expect(policy.trim(usage, oldestFirst: messages(10_000), nowMilliseconds: 30 * day) == nil)
        #expect(policy.trim(QueueUsage(count: 0, bytes: 0, oldestEnqueuedAtMilliseconds: nil), oldestFirst: [], nowMilliseconds: 0) == nil)
    }

    @Test func countCapDropsTheOldest() {
        let policy = QueueCapPolicy()
        let queue = messages(10_003)
        let usage = QueueUsage(count: 10_003, bytes: 100_030, oldestEnqueuedAtMilliseconds: 0)
        #expect(policy.exceededCaps(usage, nowMilliseconds: 1) == [.messages])
        let trim = policy.trim(usage, oldestFirst: queue, nowMilliseconds: 1)
        #expect(trim?.dropCount == 3)
        #expect(trim?.dropBytes == 30)
        #expect(trim?.caps == [.messages])
        #expect(trim?.policy == "drop_oldest:messages")
        #expect(trim?.overflow.dropped == 3)
        #expect(trim?.event.queueOverflow.policy == "drop_oldest:messages")
    }

    @Test func byteCapDropsUntilUnder() {
        let policy = QueueCapPolicy(caps: QueueCaps(maximumBytes: 100))
        let queue = [
            QueuedMessageSize(bytes: 60, enqueuedAtMilliseconds: 0),
            QueuedMessageSize(bytes: 30, enqueuedAtMilliseconds: 1),
            QueuedMessageSize(bytes: 50, enqueuedAtMilliseconds: 2),
        ]
        let usage = QueueUsage(count: 3, bytes: 140, oldestEnqueuedAtMilliseconds: 0)
        let trim = policy.trim(usage, oldestFirst: queue, nowMilliseconds: 3)
        #expect(trim == QueueTrim(dropCount: 1, dropBytes: 60, caps: [.bytes]))
    }

    @Test func ageCapDropsEverythingTooOld() {
        let policy = QueueCapPolicy()
        // Messages one day apart; at day 32 the first two (days 0 and 1) are older than 30 days.
        let queue = messages(5, startingAt: 0, every: day)
        let usage = QueueUsage(count: 5, bytes: 50, oldestEnqueuedAtMilliseconds: 0)
        #expect(policy.exceededCaps(usage, nowMilliseconds: 30 * day).isEmpty)
        #expect(policy.exceededCaps(usage, nowMilliseconds: 30 * day + 1) == [.age])
        let trim = policy.trim(usage, oldestFirst: queue, nowMilliseconds: 31 * day + 1)
        #expect(trim?.dropCount == 2)
        #expect(trim?.policy == "drop_oldest:age")
    }

    @Test func severalCapsAreAllReported() {
        let policy = QueueCapPolicy(caps: QueueCaps(maximumMessages: 2, maximumBytes: 1_000, maximumAgeMilliseconds: day))
        let queue = messages(4, startingAt: 0, every: day)
        let usage = QueueUsage(count: 4, bytes: 40, oldestEnqueuedAtMilliseconds: 0)
        let trim = policy.trim(usage, oldestFirst: queue, nowMilliseconds: 3 * day)
        // The two oldest are both over the count cap and older than a day.
        #expect(trim?.dropCount == 2)
        #expect(trim?.caps == [.messages, .age])
        #expect(trim?.policy == "drop_oldest:messages,age")
    }

    @Test func readsOnlyWhatItDrops() {
        struct Counting: Sequence, IteratorProtocol {
            var produced = 0
            let box: Box
            final class Box { var reads = 0 }
            mutating func next() -> QueuedMessageSize? {
                box.reads += 1
                return QueuedMessageSize(bytes: 1, enqueuedAtMilliseconds: 0)
            }
        }
        let box = Counting.Box()
        let usage = QueueUsage(count: 1_000_000, bytes: 1_000_000, oldestEnqueuedAtMilliseconds: 0)
        let trim = QueueCapPolicy().trim(usage, oldestFirst: Counting(box: box), nowMilliseconds: 0)
        #expect(trim?.dropCount == 990_000)
        #expect(box.reads == 990_001)
    }
}
