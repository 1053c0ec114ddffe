import Foundation
import Testing

@testable import RelayPush

@Suite struct PushOutcomeTests {
    @Test func classifiesProviderAnswers() {
        #expect(PushOutcome.classify(status: 201, retryAfter: nil) == .sent)
        #expect(PushOutcome.classify(status: 410, retryAfter: nil) == .gone)
        #expect(PushOutcome.classify(status: 404, retryAfter: nil) == .gone)
        #expect(PushOutcome.classify(status: 503, retryAfter: "7") == .retry(retryAfter: 7))
        #expect(PushOutcome.classify(status: 429, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT") == .retry(retryAfter: nil))
        #expect(PushOutcome.classify(status: 413, retryAfter: nil) == .rejected)
        #expect(PushOutcome.classify(status: 403, retryAfter: nil) == .rejected)
        #expect(RetryAfter.seconds(from: "99999999") == RetryAfter.maximumSeconds)
        #expect(RetryAfter.seconds(from: "-1") == nil)
    }
}

@Suite struct PushBackoffTests {
    @Test func growsExponentiallyWithinTheCapAndGivesUp() {
        let backoff = PushBackoff()
        #expect(backoff.next(attempts: 1, retryAfterSeconds: nil, jitter: 1) == .retry(afterMilliseconds: 500))
        #expect(backoff.next(attempts: 2, retryAfterSeconds: nil, jitter: 1) == .retry(afterMilliseconds: 1000))
        #expect(backoff.next(attempts: 3, retryAfterSeconds: nil, jitter: 0.5) == .retry(afterMilliseconds: 1000))
        #expect(backoff.next(attempts: 5, retryAfterSeconds: nil, jitter: 0) == .retry(afterMilliseconds: 0))
        #expect(backoff.next(attempts: 6, retryAfterSeconds: nil, jitter: 1) == .drop)
        var capped = PushBackoff()
        capped.maximumAttempts = 100
        #expect(capped.next(attempts: 60, retryAfterSeconds: nil, jitter: 1) == .retry(afterMilliseconds: capped.capMilliseconds))
    }

    @Test func neverRetriesBeforeRetryAfter() {
        #expect(PushBackoff().next(attempts: 1, retryAfterSeconds: 3, jitter: 1) == .retry(afterMilliseconds: 3000))
    }
}

@Suite struct CircuitBreakerTests {
    @Test func opensAfterFailuresInARowAndClosesAfterATrial() {
        var breaker = CircuitBreaker(threshold: 3, cooldownMilliseconds: 1000)
        #expect(breaker.admit(now: 0) == .send)
        breaker.failed(now: 0)
        breaker.failed(now: 1)
        #expect(breaker.admit(now: 2) == .send)
        breaker.failed(now: 2)
        #expect(breaker.state == .open(until: 1002))
        #expect(breaker.admit(now: 500) == .deferUntil(1002))
        #expect(breaker.admit(now: 1002) == .trial)
        #expect(breaker.admit(now: 1003) == .deferUntil(2003))  // one trial at a time
        breaker.succeeded()
        #expect(breaker.admit(now: 1004) == .send)
    }

    @Test func aFailedTrialOpensAgain() {
        var breaker = CircuitBreaker(threshold: 1, cooldownMilliseconds: 100)
        breaker.failed(now: 0)
        #expect(breaker.admit(now: 100) == .trial)
        breaker.failed(now: 150)
        #expect(breaker.state == .open(until: 250))
    }

    @Test func aSuccessResetsTheCount() {
        var breaker = CircuitBreaker(threshold: 2, cooldownMilliseconds: 100)
        breaker.failed(now: 0)
        breaker.succeeded()
        breaker.failed(now: 1)
        #expect(breaker.state == .closed(failures: 1))
    }
}

@Suite struct PushTargetTests {
    static let p256dh = Base64URL.decode(RFC8291.uaPublic) ?? []
    static let auth = Base64URL.decode(RFC8291.authSecret) ?? []

    @Test func acceptsAPublicHTTPSEndpoint() throws {
        let target = try PushTarget.validatedWebPush(endpoint: "https://updates.push.services.mozilla.com/wpush/v2/abc", p256dh: Self.p256dh, auth: Self.auth, allowPrivate: false)
        #expect(target.provider == .webPush)
    }

    @Test(arguments: [
        "http://push.example.net/x", "https://127.0.0.1/x", "https://localhost:8080/x", "https://10.1.2.3/x",
        "https://192.168.0.1/", "https://[::1]/x", "https://[fe80::1]/x", "https://169.254.169.254/latest",
        "https://[::ffff:127.0.0.1]/", "https://172.20.0.1/", "not a url", "https://user:pw@push.example.net/",
    ])
    func refusesWhatWouldMakeAForwarder(endpoint: String) {
        #expect(throws: PushError.self) {
            try PushTarget.validatedWebPush(endpoint: endpoint, p256dh: Self.p256dh, auth: Self.auth, allowPrivate: false)
        }
    }

    @Test func allowsLoopbackWhenTheRegionSaysSo() throws {
        _ = try PushTarget.validatedWebPush(endpoint: "http://127.0.0.1:9999/push/d1", p256dh: Self.p256dh, auth: Self.auth, allowPrivate: true)
    }

    @Test func checksAPNsAndFCMTokens() throws {
        #expect(try PushTarget.validatedAPNs(token: "ABCDEF0123", topic: "com.example.chat", sandbox: true) == .apns(token: "abcdef0123", topic: "com.example.chat", sandbox: true))
        #expect(throws: PushError.self) { try PushTarget.validatedAPNs(token: "xyz", topic: "com.example", sandbox: false) }
        #expect(throws: PushError.self) { try PushTarget.validatedAPNs(token: "ab", topic: "a b", sandbox: false) }
        #expect(throws: PushError.self) { try PushTarget.validatedFCM(token: "a/b") }
        _ = try PushTarget.validatedFCM(token: "fcm-token:APA91b")
    }

    @Test func classifiesAddresses() {
        #expect(AddressPolicy.isRefused(ipv4: [100, 64, 0, 1]))
        #expect(!AddressPolicy.isRefused(ipv4: [8, 8, 8, 8]))
        #expect(AddressPolicy.ipv6("2001:db8::1").map(AddressPolicy.isRefused(ipv6:)) == true)
        #expect(AddressPolicy.ipv6("2606:4700::1111").map(AddressPolicy.isRefused(ipv6:)) == false)
        #expect(AddressPolicy.ipv6("1::2::3") == nil)
    }
}

@Suite struct PushReasonTests {
    @Test func labelsFailuresByWhatTheyMeant() {
        #expect(PushOutcome.reason(of: .gone, status: 400) == "gone")
        #expect(PushOutcome.reason(of: .rejected, status: 404) == "rejected_404")  // FCM: a 404 that is not UNREGISTERED
        #expect(PushOutcome.reason(of: .retry(retryAfter: nil), status: 429) == "throttled")
        #expect(PushOutcome.reason(of: .retry(retryAfter: nil), status: 503) == "server_error")
    }
}
