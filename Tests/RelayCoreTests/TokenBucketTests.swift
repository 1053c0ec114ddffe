import Testing

@testable import RelayCore

@Suite struct TokenBucketTests {
    let bucket = TokenBucketParameters(capacity: 3, refillPerSecond: 2)

    @Test func aNewBucketIsFull() {
        let decision = TokenBucket.take(bucket, state: nil, nowMilliseconds: 1_000)
        #expect(decision.allowed)
        #expect(decision.state == TokenBucketState(tokens: 2, updatedAtMilliseconds: 1_000))
        #expect(decision.retryAfterMilliseconds == 0 && decision.retryAfterSeconds == 0)
    }

    @Test func burstThenDeniedWithRetryAfter() {
        var state: TokenBucketState?
        for _ in 0..<3 {
            let decision = TokenBucket.take(bucket, state: state, nowMilliseconds: 0)
            #expect(decision.allowed)
            state = decision.state
        }
        let denied = TokenBucket.take(bucket, state: state, nowMilliseconds: 100)
        #expect(!denied.allowed)
        // 100 ms at 2/s refilled 0.2 tokens; 0.8 more take 400 ms.
        #expect(denied.state.tokens == 0.2)
        #expect(denied.retryAfterMilliseconds == 400)
        #expect(denied.retryAfterSeconds == 1)
        // A denied take costs nothing: at the promised time it is allowed.
        let later = TokenBucket.take(bucket, state: denied.state, nowMilliseconds: 500)
        #expect(later.allowed)
        #expect(later.state.tokens == 0)
    }

    @Test func refillIsCappedAtCapacity() {
        let empty = TokenBucketState(tokens: 0, updatedAtMilliseconds: 0)
        let decision = TokenBucket.take(bucket, state: empty, nowMilliseconds: 3_600_000)
        #expect(decision.allowed)
        #expect(decision.state.tokens == 2)
    }

    @Test func aClockSteppingBackRefillsNothing() {
        let state = TokenBucketState(tokens: 0.5, updatedAtMilliseconds: 10_000)
        let decision = TokenBucket.take(bucket, state: state, nowMilliseconds: 5_000)
        #expect(!decision.allowed)
        #expect(decision.state == TokenBucketState(tokens: 0.5, updatedAtMilliseconds: 10_000))
        #expect(decision.retryAfterMilliseconds == 250)
    }

    @Test func costAndSlowRates() {
        let slow = TokenBucketParameters(capacity: 1, refillPerSecond: 0.1)
        let first = TokenBucket.take(slow, state: nil, nowMilliseconds: 0)
        let second = TokenBucket.take(slow, state: first.state, nowMilliseconds: 1)
        #expect(!second.allowed)
        // 1 ms refilled 0.0001 tokens; 0.9999 more take 9,999 ms.
        #expect(second.retryAfterMilliseconds == 9_999)
        #expect(second.retryAfterSeconds == 10)
        let heavy = TokenBucket.take(bucket, state: nil, nowMilliseconds: 0, cost: 3)
        #expect(heavy.allowed && heavy.state.tokens == 0)
    }

    @Test func idleExpiry() {
        #expect(bucket.idleExpiryMilliseconds == 1_500)
        #expect(TokenBucketParameters(capacity: 1, refillPerSecond: 3).idleExpiryMilliseconds == 334)
    }

    @Test func sustainedRateMatchesRefill() {
        // Taking every 100 ms at 2/s: 3 from the burst, then one per 500 ms.
        var state: TokenBucketState?
        var allowed = 0
        for step in 0...100 {
            let decision = TokenBucket.take(bucket, state: state, nowMilliseconds: Int64(step) * 100)
            state = decision.state
            if decision.allowed { allowed += 1 }
        }
        #expect(allowed == 3 + 20)
    }

    @Test func rateLimitedRefusal() throws {
        let denied = TokenBucket.take(
            bucket, state: TokenBucketState(tokens: 0, updatedAtMilliseconds: 0), nowMilliseconds: 0)
        let refusal = try #require(RateLimited(denied))
        #expect(refusal.retryAfterSeconds == 1)
        #expect(refusal.code == .rateLimited && refusal.reasonCode == 0x97)
        let error = Relay_V1_Error(refusal)
        #expect(error.code == "rate_limited" && error.retryAfterSeconds == 1)
        #expect(RateLimited(TokenBucket.take(bucket, state: nil, nowMilliseconds: 0)) == nil)
        #expect(RateLimits().sends.capacity == 30)
    }
}
