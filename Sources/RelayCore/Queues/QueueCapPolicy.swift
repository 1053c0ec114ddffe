/// How full a device queue is.
public struct QueueUsage: Hashable, Sendable {
    /// Messages queued.
    public var count: Int
    /// Ciphertext bytes queued.
    public var bytes: Int
    /// When the oldest queued message was enqueued (ms since the Unix
    /// epoch); nil for an empty queue.
    public var oldestEnqueuedAtMilliseconds: Int64?

    /// A queue of `count` messages and `bytes` bytes whose oldest was enqueued
    /// at `oldestEnqueuedAtMilliseconds`.
    public init(count: Int, bytes: Int, oldestEnqueuedAtMilliseconds: Int64?) {
        self.count = count
        self.bytes = bytes
        self.oldestEnqueuedAtMilliseconds = oldestEnqueuedAtMilliseconds
    }
}

/// One queued message, as the cap policy sees it.
public struct QueuedMessageSize: Hashable, Sendable {
    /// Its ciphertext bytes.
    public var bytes: Int
    /// When it was enqueued, ms since the Unix epoch.
    public var enqueuedAtMilliseconds: Int64

    /// A message of `bytes` enqueued at `enqueuedAtMilliseconds`.
    public init(bytes: Int, enqueuedAtMilliseconds: Int64) {
        self.bytes = bytes
        self.enqueuedAtMilliseconds = enqueuedAtMilliseconds
    }
}

/// What to drop from a queue over its caps: the `dropCount` oldest messages.
public struct QueueTrim: Hashable, Sendable {
    /// How many of the oldest messages to drop.
    public var dropCount: Int
    /// Their bytes.
    public var dropBytes: Int
    /// The caps that were exceeded.
    public var caps: [QueueCap]

    /// The `QueueOverflow.policy` string: `drop_oldest:` and the caps hit,
    /// e.g. `drop_oldest:messages` or `drop_oldest:bytes,age`.
    public var policy: String {
        QueueCapPolicy.dropOldestPolicy + ":" + caps.map(\.rawValue).joined(separator: ",")
    }

    /// The `QueueOverflow` event the device gets (on `d/<device>/e`), after
    /// which it syncs history.
    public var overflow: Relay_V1_QueueOverflow {
        var overflow = Relay_V1_QueueOverflow()
        overflow.dropped = UInt64(dropCount)
        overflow.policy = policy
        return overflow
    }

    /// ``overflow`` wrapped in an `Event`.
    public var event: Relay_V1_Event {
        var event = Relay_V1_Event()
        event.queueOverflow = overflow
        return event
    }
}

/// Decides what a device queue over its caps drops: the oldest messages
/// first, until it is within every cap again. Nothing is dropped silently:
/// each trim yields a `QueueOverflow` event for the device.
public struct QueueCapPolicy: Hashable, Sendable {
    /// The policy name at the start of `QueueOverflow.policy`.
    public static let dropOldestPolicy = "drop_oldest"

    /// The caps.
    public var caps: QueueCaps

    /// A policy enforcing `caps`.
    public init(caps: QueueCaps = QueueCaps()) {
        self.caps = caps
    }

    /// The caps `usage` exceeds at `nowMilliseconds` (a cheap check after each
    /// enqueue; empty when nothing needs dropping).
    public func exceededCaps(_ usage: QueueUsage, nowMilliseconds now: Int64) -> [QueueCap] {
        var exceeded: [QueueCap] = []
        if usage.count > caps.maximumMessages { exceeded.append(.messages) }
        if usage.bytes > caps.maximumBytes { exceeded.append(.bytes) }
        if let oldest = usage.oldestEnqueuedAtMilliseconds, isExpired(oldest, now: now) { exceeded.append(.age) }
        return exceeded
    }

    /// What to drop from a queue with `usage` whose messages, oldest first,
    /// are `oldestFirst` (only as many are read as get dropped). Nil when
    /// the queue is within its caps.
    ///
    /// A message is dropped while the queue holds more than
    /// `maximumMessages`, or more than `maximumBytes`, or the message is older
    /// than `maximumAgeMilliseconds`. When only the count cap is exceeded the
    /// answer is `usage.count - maximumMessages` without reading any sizes
    /// beyond those dropped.
    public func trim(
        _ usage: QueueUsage,
        oldestFirst: some Sequence<QueuedMessageSize>,
        nowMilliseconds now: Int64
    ) -> QueueTrim? {
        guard !exceededCaps(usage, nowMilliseconds: now).isEmpty else { return nil }
        var count = usage.count
        var bytes = usage.bytes
        var dropped = 0
        var droppedBytes = 0
        var hit = Set<QueueCap>()
        for message in oldestFirst {
            var reasons: [QueueCap] = []
            if count > caps.maximumMessages { reasons.append(.messages) }
            if bytes > caps.maximumBytes { reasons.append(.bytes) }
            if isExpired(message.enqueuedAtMilliseconds, now: now) { reasons.append(.age) }
            guard !reasons.isEmpty else { break }
            hit.formUnion(reasons)
            count -= 1
            bytes -= message.bytes
            dropped += 1
            droppedBytes += message.bytes
        }
        guard dropped > 0 else { return nil }
        return QueueTrim(dropCount: dropped, dropBytes: droppedBytes, caps: hit.sorted())
    }

    private func isExpired(_ enqueuedAt: Int64, now: Int64) -> Bool {
        now - enqueuedAt > caps.maximumAgeMilliseconds
    }
}
