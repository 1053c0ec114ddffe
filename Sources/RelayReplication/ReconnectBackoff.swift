/// Delays between a shipper's attempts: from `minimum`, doubling after each
/// failure up to `maximum`, back to `minimum` after a success. Pure.
public struct ReconnectBackoff: Sendable, Equatable {
    /// The first delay.
    public let minimum: Duration
    /// The longest delay.
    public let maximum: Duration
    private var current: Duration

    /// Delays from `minimum` up to `maximum`.
    public init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.current = minimum
    }

    /// The delay before the next attempt; the one after is twice as long (at most `maximum`).
    public mutating func next() -> Duration {
        let delay = current
        current = min(maximum, current * 2)
        return delay
    }

    /// Back to `minimum`, after a success.
    public mutating func reset() {
        current = minimum
    }
}
