import NIOConcurrencyHelpers
import NIOCore

/// Runs asynchronous jobs one after another per key (e.g. per
/// conversation), any number of keys side by side. A job starts when the
/// previous job of its key has completed, successfully or not.
final class SerialChains: Sendable {
    private let tails = NIOLockedValueBox<[String: (token: UInt64, done: EventLoopFuture<Void>)]>([:])
    private let counter = NIOLockedValueBox<UInt64>(0)

    /// Runs `job` after every job of `key` started before it.
    func run<T: Sendable>(_ key: String, on loop: any EventLoop, _ job: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        let promise = loop.makePromise(of: T.self)
        let token = counter.withLockedValue { $0 += 1; return $0 }
        let done = promise.futureResult.map { _ in }.recover { _ in }
        let previous = tails.withLockedValue { tails -> EventLoopFuture<Void>? in
            defer { tails[key] = (token, done) }
            return tails[key]?.done
        }
        let start = previous?.hop(to: loop) ?? loop.makeSucceededVoidFuture()
        start.whenComplete { _ in job().cascade(to: promise) }
        done.whenComplete { _ in
            self.tails.withLockedValue { tails in
                if tails[key]?.token == token { tails[key] = nil }
            }
        }
        return promise.futureResult
    }
}
