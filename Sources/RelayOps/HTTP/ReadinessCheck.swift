import NIOConcurrencyHelpers
import NIOCore

/// One thing a relay needs before it can take traffic. `/readyz` runs every
/// check, each bounded by a timeout, and answers 200 only when all pass.
///
/// `relay serve` checks its Redis (`RedisReadiness`); the state of the
/// replication peers is meant to be one more conforming type, added to the
/// list `ServeCommand` passes to `OpsEndpoints`.
public protocol ReadinessCheck: Sendable {
    /// Short stable name, the key in the `/readyz` body ("redis").
    var name: String { get }
    /// Completes with `.ready` or with the reason it is not; may also fail
    /// (taken as not ready, with the error as reason).
    func check(on eventLoop: any EventLoop) -> EventLoopFuture<ReadinessResult>
}

/// The outcome of one `ReadinessCheck`.
public struct ReadinessResult: Sendable, Equatable, Codable {
    /// Whether this dependency is usable.
    public var ready: Bool
    /// What was seen: a latency when ready, the reason when not.
    public var detail: String

    /// A passing result.
    public static func ready(_ detail: String) -> ReadinessResult { .init(ready: true, detail: detail) }
    /// A failing result with its reason.
    public static func notReady(_ reason: String) -> ReadinessResult { .init(ready: false, detail: reason) }
}

extension ReadinessCheck {
    /// Runs the check and gives up after `timeout` (not ready: "timed out").
    func check(on eventLoop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<ReadinessResult> {
        let promise = eventLoop.makePromise(of: ReadinessResult.self)
        let done = NIOLockedValueBox(false)
        @Sendable func finish(_ result: ReadinessResult) {
            let first = done.withLockedValue { done in
                defer { done = true }
                return !done
            }
            if first { promise.succeed(result) }
        }
        let timer = eventLoop.scheduleTask(in: timeout) {
            finish(.notReady("no answer within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        check(on: eventLoop).whenComplete { result in
            timer.cancel()
            switch result {
            case .success(let value): finish(value)
            case .failure(let error): finish(.notReady("\(error)"))
            }
        }
        return promise.futureResult
    }
}
