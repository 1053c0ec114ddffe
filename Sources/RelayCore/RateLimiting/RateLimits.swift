/// The per-region rate limits (docs/protocol.md, "Limits"): one token bucket
/// per device for each kind of upstream traffic.
public struct RateLimits: Hashable, Sendable, Codable {
    /// Sends (`s/`) per device: default burst 30, then 10 a second.
    public var sends: TokenBucketParameters
    /// Requests (`q/`) per device: default burst 20, then 5 a second.
    public var requests: TokenBucketParameters
    /// Typing notices (`t/`) per device: default burst 5, then 1 a second.
    /// Over the limit they are dropped quietly (QoS 0 has no answer).
    public var typing: TokenBucketParameters

    /// The limits, with the defaults unless given.
    public init(
        sends: TokenBucketParameters = TokenBucketParameters(capacity: 30, refillPerSecond: 10),
        requests: TokenBucketParameters = TokenBucketParameters(capacity: 20, refillPerSecond: 5),
        typing: TokenBucketParameters = TokenBucketParameters(capacity: 5, refillPerSecond: 1)
    ) {
        self.sends = sends
        self.requests = requests
        self.typing = typing
    }
}

/// A send or request refused by a rate limit.
public struct RateLimited: RelayRefusal, Hashable {
    /// Seconds until a retry may succeed (at least 1).
    public var retryAfterSeconds: UInt32

    /// A refusal telling the client to wait `retryAfterSeconds`.
    public init(retryAfterSeconds: UInt32) {
        self.retryAfterSeconds = max(1, retryAfterSeconds)
    }

    /// The refusal for a denied `decision`, nil when it was allowed.
    public init?(_ decision: TokenBucketDecision) {
        guard !decision.allowed else { return nil }
        self.init(retryAfterSeconds: decision.retryAfterSeconds)
    }

    /// `rate_limited`.
    public var code: ErrorCode { .rateLimited }
    /// 0x97 Quota exceeded.
    public var reasonCode: UInt8 { RefusalReasonCode.quotaExceeded }
    /// A one-line explanation.
    public var message: String { "rate limited; retry after \(retryAfterSeconds) s" }
}
