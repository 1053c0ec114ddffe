import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// `keys.fetch` requests asked of another region (a `KeysRequest` frame)
/// whose device waits for the answer (a `KeysAnswer` frame), each for at
/// most ``timeout``. Answers travel over the replication link, which may be
/// slow or cut: a request unanswered in time fails with `unavailable`, and
/// an answer arriving after that is dropped (its one-time prekeys were taken
/// at the owner's region and are not handed to anyone).
final class PendingKeyFetches: Sendable {
    /// Requests waiting at once, beyond which a fetch is refused at once
    /// (each device's fetches are rate-limited; this bounds the table).
    static let maximumWaiting = 10_000

    /// How long a device's request waits for the other region's answer.
    let timeout: TimeAmount
    private let waiting = NIOLockedValueBox<[String: EventLoopPromise<Relay_V1_Response>]>([:])

    /// A table whose requests wait at most `timeout`.
    init(timeout: TimeAmount = .seconds(10)) {
        self.timeout = timeout
    }

    /// Registers request `id`, asked of `region`: the future completes with
    /// its answer, or fails with `unavailable` after ``timeout`` (or when
    /// too many wait). Register before shipping the request, so that no
    /// answer can come first.
    func wait(for id: String, region: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        let promise = loop.makePromise(of: Relay_V1_Response.self)
        let added = waiting.withLockedValue { waiting -> Bool in
            guard waiting.count < Self.maximumWaiting, waiting[id] == nil else { return false }
            waiting[id] = promise
            return true
        }
        guard added else {
            promise.fail(ChatError(.unavailable, "too many key fetches wait for other regions; retry shortly"))
            return promise.futureResult
        }
        let timeout = self.timeout
        let timer = loop.scheduleTask(in: timeout) {
            self.fail(id, ChatError(.unavailable, "region \(region) did not answer the key fetch within \(timeout.nanoseconds / 1_000_000) ms; retry"))
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    /// Completes the request `id` with `response`; false when none waits
    /// (it timed out, or this process restarted since it was asked).
    @discardableResult
    func complete(_ id: String, with response: Relay_V1_Response) -> Bool {
        guard let promise = take(id) else { return false }
        promise.succeed(response)
        return true
    }

    /// Fails the request `id` (e.g. it could not be shipped).
    func fail(_ id: String, _ error: ChatError) {
        take(id)?.fail(error)
    }

    /// Requests waiting now.
    var count: Int { waiting.withLockedValue { $0.count } }

    private func take(_ id: String) -> EventLoopPromise<Relay_V1_Response>? {
        waiting.withLockedValue { $0.removeValue(forKey: id) }
    }
}
