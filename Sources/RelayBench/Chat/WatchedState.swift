import NIOConcurrencyHelpers
import NIOCore

/// State shared by the devices of a run (on any event loop) and the task
/// driving the run, which can wait, bounded, until the state says so.
final class WatchedState<State: Sendable>: Sendable {
    private struct Waiter: Sendable {
        var id: Int
        var predicate: @Sendable (State) -> Bool
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Inner: Sendable {
        var state: State
        var waiters: [Waiter] = []
        var nextID = 0
        /// Waits whose time ran out before they were registered.
        var expired: Set<Int> = []
        var failure: BenchError?
    }

    private let inner: NIOLockedValueBox<Inner>

    init(_ state: State) {
        inner = NIOLockedValueBox(Inner(state: state))
    }

    /// A value computed from the state.
    func read<T>(_ body: (State) -> T) -> T {
        inner.withLockedValue { body($0.state) }
    }

    /// Changes the state, then wakes the waits it satisfies.
    func update(_ body: (inout State) -> Void) {
        let satisfied: [Waiter] = inner.withLockedValue { inner in
            body(&inner.state)
            guard !inner.waiters.isEmpty else { return [] }
            let state = inner.state
            var satisfied: [Waiter] = []
            inner.waiters.removeAll { waiter in
                guard waiter.predicate(state) else { return false }
                satisfied.append(waiter)
                return true
            }
            return satisfied
        }
        for waiter in satisfied { waiter.continuation.resume() }
    }

    /// Fails every wait, now and later (a device's connection failed).
    func fail(_ error: BenchError) {
        let waiters: [Waiter] = inner.withLockedValue { inner in
            guard inner.failure == nil else { return [] }
            inner.failure = error
            defer { inner.waiters = [] }
            return inner.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }

    /// Returns once `predicate` holds; throws `.timedOut` (naming `what`)
    /// after `timeout`, or the failure passed to `fail`.
    func wait(for what: String, timeout: TimeAmount, until predicate: @escaping @Sendable (State) -> Bool) async throws {
        let id = inner.withLockedValue { inner -> Int in
            defer { inner.nextID += 1 }
            return inner.nextID
        }
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds)))
            self.expire(id, BenchError(.timedOut, "\(what) did not happen within \(Double(timeout.nanoseconds) / 1e9) s"))
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, BenchError>? = inner.withLockedValue { inner in
                if let failure = inner.failure { return .failure(failure) }
                if inner.expired.remove(id) != nil {
                    return .failure(BenchError(.timedOut, "\(what) did not happen in time"))
                }
                if predicate(inner.state) { return .success(()) }
                inner.waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    private func expire(_ id: Int, _ error: BenchError) {
        let waiter: Waiter? = inner.withLockedValue { inner in
            guard let i = inner.waiters.firstIndex(where: { $0.id == id }) else {
                inner.expired.insert(id)
                return nil
            }
            return inner.waiters.remove(at: i)
        }
        waiter?.continuation.resume(throwing: error)
    }
}
