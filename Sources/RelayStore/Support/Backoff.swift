import NIOCore

/// Exponential reconnect delays with jitter, from `minimum` doubling up to `maximum`.
struct Backoff {
    let minimum: TimeAmount
    let maximum: TimeAmount
    private var current: TimeAmount

    init(minimum: TimeAmount, maximum: TimeAmount) {
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.current = minimum
    }

    /// The next delay: between half and all of the current step, which then doubles.
    mutating func next() -> TimeAmount {
        let step = self.current
        let (doubled, overflow) = self.current.nanoseconds.multipliedReportingOverflow(by: 2)
        self.current = overflow ? self.maximum : min(self.maximum, .nanoseconds(doubled))
        let jittered = Int64(Double(step.nanoseconds) * Double.random(in: 0.5...1.0))
        return .nanoseconds(max(0, jittered))
    }

    /// Back to `minimum`, after a success.
    mutating func reset() {
        self.current = self.minimum
    }
}
