import RelayCore
import Synchronization

/// Uploads each user may start (token buckets, RelayCore's ``TokenBucket``
/// rule), held by this node: a creation beyond them is 429 with
/// `Retry-After`.
public final class UploadRateLimiter: Sendable {
    private let parameters: TokenBucketParameters
    private let buckets = Mutex<[String: TokenBucketState]>([:])
    /// Buckets kept at most (idle ones are dropped first when full).
    static let maximumUsers = 100_000

    /// `burst` uploads at once and `perSecond` after.
    public init(burst: Double, perSecond: Double) {
        parameters = TokenBucketParameters(capacity: max(1, burst), refillPerSecond: max(0.001, perSecond))
    }

    /// Takes one upload for `user` at `nowMilliseconds`; a refusal says when to retry.
    public func take(user: String, nowMilliseconds now: Int64) throws(MediaRefusal) {
        let decision = buckets.withLock { buckets in
            if buckets.count >= Self.maximumUsers {
                let idle = parameters.idleExpiryMilliseconds
                buckets = buckets.filter { now - $0.value.updatedAtMilliseconds < idle }
            }
            let decision = TokenBucket.take(parameters, state: buckets[user], nowMilliseconds: now)
            buckets[user] = decision.state
            return decision
        }
        guard decision.allowed else {
            throw .tooManyRequests("too many uploads started by \(user); retry after \(decision.retryAfterSeconds) s",
                                   retryAfterSeconds: Int(decision.retryAfterSeconds))
        }
    }
}
