import NIOCore

/// The keep-alive deadlines of one event loop's connections, behind one
/// timer: a hashed timing wheel with `granularity`-wide buckets.
///
/// A timer per connection (`scheduleTask`) costs about 340 bytes of heap
/// per idle connection (the task, its promise, its closure and its slot in
/// the loop's queue); here a connection costs one slot in a bucket. A
/// connection is put in the bucket of its deadline rounded up, so it is
/// checked no earlier than the deadline and at most `granularity` after it;
/// one that was active meanwhile moves to the bucket of its new deadline.
/// Used only on its event loop.
final class KeepAliveWheel {
    /// How late past its deadline a connection may be closed.
    static let granularity: Int64 = TimeAmount.milliseconds(250).nanoseconds

    private let eventLoop: any EventLoop
    /// Connections by bucket index (deadline / granularity, rounded up).
    /// A connection knows its bucket and index (`keepAliveSlot`), so that
    /// it leaves in O(1).
    private var buckets: [Int64: [MQTTConnectionHandler]] = [:]
    /// Buckets up to this index have been checked.
    private var checkedThrough: Int64
    /// The bucket the pending tick is for.
    private var scheduledBucket: Int64?
    private var tick: Scheduled<Void>?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.checkedThrough = Self.bucket(of: eventLoop.now, roundingUp: false)
    }

    /// Number of connections waiting (for tests).
    var count: Int { buckets.values.reduce(0) { $0 + $1.count } }

    /// Checks `handler` (`keepAliveDue(now:)`) once `deadline` has passed.
    func insert(_ handler: MQTTConnectionHandler, deadline: NIODeadline) {
        remove(handler)
        let bucket = max(Self.bucket(of: deadline), checkedThrough + 1)
        handler.keepAliveSlot = (bucket, buckets[bucket, default: []].count)
        buckets[bucket, default: []].append(handler)
        if scheduledBucket.map({ bucket < $0 }) ?? true {
            schedule(bucket)
        }
    }

    /// Stops checking `handler`.
    func remove(_ handler: MQTTConnectionHandler) {
        guard let (bucket, index) = handler.keepAliveSlot else { return }
        handler.keepAliveSlot = nil
        guard let last = buckets[bucket]?.popLast() else { return }
        if last !== handler {
            buckets[bucket]![index] = last
            last.keepAliveSlot = (bucket, index)
        }
        if buckets[bucket]!.isEmpty {
            buckets[bucket] = nil
        }
    }

    private func schedule(_ bucket: Int64) {
        tick?.cancel()
        scheduledBucket = bucket
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        tick = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(bucket * Self.granularity))) {
            bound.value.fire()
        }
    }

    private func fire() {
        tick = nil
        scheduledBucket = nil
        let now = eventLoop.now
        let current = Self.bucket(of: now, roundingUp: false)
        let due = buckets.keys.filter { $0 <= current }.sorted()
        checkedThrough = max(checkedThrough, current)
        for bucket in due {
            guard let handlers = buckets.removeValue(forKey: bucket) else { continue }
            for handler in handlers { handler.keepAliveSlot = nil }
            // Each either closes or comes back in a later bucket.
            for handler in handlers { handler.keepAliveDue(now: now) }
        }
        if scheduledBucket == nil, let next = buckets.keys.min() {
            schedule(next)
        }
    }

    private static func bucket(of deadline: NIODeadline, roundingUp: Bool = true) -> Int64 {
        let nanoseconds = Int64(clamping: deadline.uptimeNanoseconds)
        return roundingUp ? (nanoseconds + granularity - 1) / granularity : nanoseconds / granularity
    }
}
