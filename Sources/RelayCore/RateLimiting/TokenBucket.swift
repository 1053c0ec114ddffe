/// The parameters of a token bucket: it holds at most `capacity` tokens,
/// gains `refillPerSecond` tokens a second, and each action takes `cost`.
///
/// Stored by the region's configuration and passed as-is to the Redis
/// script that runs the same math (``TokenBucket``).
public struct TokenBucketParameters: Hashable, Sendable, Codable {
    /// The most tokens the bucket holds: the burst allowed after a quiet spell.
    public var capacity: Double
    /// Tokens added per second: the sustained rate.
    public var refillPerSecond: Double

    /// A bucket of `capacity` tokens refilled at `refillPerSecond`; both must
    /// be positive and finite.
    public init(capacity: Double, refillPerSecond: Double) {
        precondition(capacity > 0 && capacity.isFinite, "capacity must be positive")
        precondition(refillPerSecond > 0 && refillPerSecond.isFinite, "refill rate must be positive")
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
    }

    /// Milliseconds after its last update at which a bucket is full again,
    /// `ceil(capacity * 1000 / refillPerSecond)`: a stored state may expire
    /// then (Redis `PEXPIRE`), since a missing state means a full bucket.
    public var idleExpiryMilliseconds: Int64 {
        Int64((capacity * 1000 / refillPerSecond).rounded(.up))
    }
}

/// A bucket's state: its tokens at `updatedAtMilliseconds`.
public struct TokenBucketState: Hashable, Sendable, Codable {
    /// Tokens held, 0...capacity.
    public var tokens: Double
    /// When `tokens` was computed, in milliseconds since the Unix epoch.
    public var updatedAtMilliseconds: Int64

    /// A state of `tokens` at `updatedAtMilliseconds`.
    public init(tokens: Double, updatedAtMilliseconds: Int64) {
        self.tokens = tokens
        self.updatedAtMilliseconds = updatedAtMilliseconds
    }
}

/// The answer to one take from a bucket.
public struct TokenBucketDecision: Hashable, Sendable {
    /// True when the action may go ahead.
    public var allowed: Bool
    /// The state to store.
    public var state: TokenBucketState
    /// When denied, milliseconds until enough tokens will be there; 0 when allowed.
    public var retryAfterMilliseconds: Int64

    /// `retryAfterMilliseconds` rounded up to whole seconds (at least 1 when
    /// denied), for `Error.retry_after_seconds`.
    public var retryAfterSeconds: UInt32 {
        guard !allowed else { return 0 }
        let seconds = (retryAfterMilliseconds + 999) / 1000
        return UInt32(clamping: max(1, seconds))
    }
}

/// Token bucket rate limiting as a pure function of (parameters, state, now).
///
/// The math, exactly (C = capacity, R = refillPerSecond, k = cost, state
/// (T, U) = (tokens, updatedAtMilliseconds), n = now in ms; all IEEE-754
/// doubles except U and n, which are integers of milliseconds):
///
/// 1. No stored state: T = C, U = n.
/// 2. `elapsed = max(0, n - U)` (a clock that steps back refills nothing).
/// 3. `T1 = min(C, T + elapsed * R / 1000)`, evaluated left to right:
///    `(elapsed * R) / 1000`, then the sum, then the min.
/// 4. `U1 = max(U, n)`.
/// 5. If `T1 >= k`: allowed, new state `(T1 - k, U1)`, retry after 0.
///    Otherwise: denied, new state `(T1, U1)` (a denied take costs nothing),
///    retry after `ceil((k - T1) * 1000 / R)` ms.
///
/// The Redis version (a Lua script over a hash `{tokens, updated}`) does the
/// same operations in the same order; Lua 5.1 numbers are the same doubles, so
/// the results agree bit for bit as long as the script stores tokens with
/// `string.format('%.17g', t)` (Lua's default `tostring` keeps only 14
/// digits) and takes `now` from `redis.call('TIME')` as
/// `seconds * 1000 + floor(microseconds / 1000)`. It then sets the key to
/// expire after ``TokenBucketParameters/idleExpiryMilliseconds``.
public enum TokenBucket {
    /// Takes `cost` tokens (0 < cost <= capacity) from the bucket in `state`
    /// at `nowMilliseconds`.
    public static func take(
        _ parameters: TokenBucketParameters,
        state: TokenBucketState?,
        nowMilliseconds now: Int64,
        cost: Double = 1
    ) -> TokenBucketDecision {
        precondition(cost > 0 && cost <= parameters.capacity, "cost must be in 0<...<=capacity")
        let capacity = parameters.capacity
        let rate = parameters.refillPerSecond
        let start = state ?? TokenBucketState(tokens: capacity, updatedAtMilliseconds: now)
        let elapsed = max(0, now - start.updatedAtMilliseconds)
        let tokens = min(capacity, start.tokens + Double(elapsed) * rate / 1000)
        let updatedAt = max(start.updatedAtMilliseconds, now)
        if tokens >= cost {
            return TokenBucketDecision(
                allowed: true,
                state: TokenBucketState(tokens: tokens - cost, updatedAtMilliseconds: updatedAt),
                retryAfterMilliseconds: 0)
        }
        let wait = ((cost - tokens) * 1000 / rate).rounded(.up)
        return TokenBucketDecision(
            allowed: false,
            state: TokenBucketState(tokens: tokens, updatedAtMilliseconds: updatedAt),
            retryAfterMilliseconds: Int64(wait))
    }
}
