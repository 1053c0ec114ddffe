/// The drill's time line: milliseconds since the drill started, on the
/// monotonic clock, so that every recorded time compares with every other.
struct DrillClock: Sendable {
    private let start = ContinuousClock.now

    /// Milliseconds since the drill started.
    var nowMs: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }
}
