import Foundation
import NIOCore
import NIOEmbedded
@testable import RelayChat
import RelayCore
import Testing

/// `PendingKeyFetches`: a `keys.fetch` asked of another region waits for its
/// answer a bounded time, and a late answer is dropped.
struct PendingKeyFetchesTests {
    private static func bundles(of user: String) -> Relay_V1_Response {
        var response = Relay_V1_Response()
        response.keyBundles.user = user
        return response
    }

    @Test func anAnswerCompletesItsRequestOnce() throws {
        let loop = EmbeddedEventLoop()
        let pending = PendingKeyFetches(timeout: .seconds(10))
        let answer = pending.wait(for: "r1", region: "us-east", on: loop)
        #expect(pending.count == 1)
        #expect(pending.complete("r1", with: Self.bundles(of: "alice")))
        #expect(try answer.wait().keyBundles.user == "alice")
        #expect(!pending.complete("r1", with: Self.bundles(of: "alice")), "a second answer finds no one waiting")
        #expect(pending.count == 0)
    }

    @Test func anUnansweredRequestFailsUnavailableAfterTheTimeoutAndALateAnswerIsDropped() {
        let loop = EmbeddedEventLoop()
        let pending = PendingKeyFetches(timeout: .seconds(10))
        let answer = pending.wait(for: "r2", region: "eu-west", on: loop)
        let outcome = Locked<Result<Relay_V1_Response, any Error>?>(nil)
        answer.whenComplete { result in outcome.withLockedValue { $0 = result } }
        loop.advanceTime(by: .seconds(9))
        #expect(outcome.withLockedValue { $0 } == nil)
        loop.advanceTime(by: .seconds(1))
        guard case .failure(let error as ChatError)? = outcome.withLockedValue({ $0 }) else {
            Issue.record("expected a ChatError, got \(String(describing: outcome.withLockedValue { $0 }))")
            return
        }
        #expect(error.code == .unavailable)
        #expect(!pending.complete("r2", with: Self.bundles(of: "alice")))
        #expect(pending.count == 0)
    }

    @Test func aFailedShipmentFailsTheRequestAndADuplicateIdIsRefused() {
        let loop = EmbeddedEventLoop()
        let pending = PendingKeyFetches()
        let first = pending.wait(for: "r3", region: "ap-south", on: loop)
        let duplicate = pending.wait(for: "r3", region: "ap-south", on: loop)
        let codes = Locked<[String]>([])
        for future in [duplicate, first] {
            future.whenFailure { error in codes.withLockedValue { $0.append((error as? ChatError)?.code.rawValue ?? "\(error)") } }
        }
        pending.fail("r3", ChatError(.unavailable, "the outbox could not be written"))
        #expect(codes.withLockedValue { $0 } == ["unavailable", "unavailable"])
        #expect(pending.count == 0)
    }
}

/// A value shared with completion callbacks (Sendable by its lock).
private final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLockedValue<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
