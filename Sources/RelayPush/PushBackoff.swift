/// When to try a failed push again: exponential backoff with full jitter
/// (base · 2^attempt, capped), never sooner than the provider's
/// `Retry-After`; after `maximumAttempts` the push is dropped.
public struct PushBackoff: Sendable, Equatable {
    /// The first retry's upper bound, in milliseconds.
    public var baseMilliseconds: Int64 = 500
    /// The longest backoff, in milliseconds.
    public var capMilliseconds: Int64 = 60_000
    /// Tries in all, the first included.
    public var maximumAttempts: Int = 6

    /// The default policy.
    public init() {}

    /// What to do after `attempts` failed tries.
    public enum Decision: Sendable, Equatable {
        /// Try again in this many milliseconds.
        case retry(afterMilliseconds: Int64)
        /// Give up.
        case drop
    }

    /// The decision after the `attempts`-th failed try (1 for the first);
    /// `jitter` in 0...1 picks the point in the window (random in use,
    /// fixed in tests).
    public func next(attempts: Int, retryAfterSeconds: Int?, jitter: Double) -> Decision {
        guard attempts < maximumAttempts else { return .drop }
        let exponent = min(max(attempts - 1, 0), 30)
        let window = min(capMilliseconds, baseMilliseconds << Int64(exponent))
        let jittered = Int64(Double(window) * min(max(jitter, 0), 1))
        let floor = Int64(retryAfterSeconds ?? 0) * 1000
        return .retry(afterMilliseconds: max(jittered, floor))
    }
}
