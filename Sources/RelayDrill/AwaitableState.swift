import Synchronization

/// A value behind a lock that tasks can wait on: ``wait(until:timeout:)``
/// returns as soon as the value satisfies a predicate, whichever change makes
/// it so, instead of polling.
final class AwaitableState<Value: Sendable>: Sendable {
    /// A waiter gave up: its timeout passed before the predicate held.
    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "timed out" }
    }

    private struct Waiter {
        let id: UInt64
        let predicate: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Value, any Error>
    }

    private struct Storage {
        var value: Value
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// Waiters abandoned (timeout, cancellation) before they were registered.
        var abandoned: [UInt64: any Error] = [:]
    }

    private let storage: Mutex<Storage>

    /// A state holding `value`.
    init(_ value: Value) {
        storage = Mutex(Storage(value: value))
    }

    /// The current value.
    var value: Value { storage.withLock { $0.value } }

    /// Changes the value and wakes every waiter whose predicate now holds.
    @discardableResult
    func update<Result: Sendable>(_ body: @Sendable (inout Value) -> Result) -> Result {
        let (result, ready) = storage.withLock { storage -> (Result, [(CheckedContinuation<Value, any Error>, Value)]) in
            let result = body(&storage.value)
            var ready: [(CheckedContinuation<Value, any Error>, Value)] = []
            let value = storage.value
            storage.waiters.removeAll { waiter in
                guard waiter.predicate(value) else { return false }
                ready.append((waiter.continuation, value))
                return true
            }
            return (result, ready)
        }
        for (continuation, value) in ready { continuation.resume(returning: value) }
        return result
    }

    /// Waits until `predicate` holds (returning the value that satisfied it),
    /// at most `timeout`; throws ``TimedOut`` or `CancellationError`.
    @discardableResult
    func wait(until predicate: @escaping @Sendable (Value) -> Bool, timeout: Duration) async throws -> Value {
        let id = storage.withLock { storage in
            storage.nextID += 1
            return storage.nextID
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            self.abandon(id, TimedOut())
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let outcome: Result<Value, any Error>? = storage.withLock { storage in
                    if let error = storage.abandoned.removeValue(forKey: id) { return .failure(error) }
                    if predicate(storage.value) { return .success(storage.value) }
                    storage.waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            self.abandon(id, CancellationError())
        }
    }

    private func abandon(_ id: UInt64, _ error: any Error) {
        let continuation = storage.withLock { storage -> CheckedContinuation<Value, any Error>? in
            guard let index = storage.waiters.firstIndex(where: { $0.id == id }) else {
                storage.abandoned[id] = error
                return nil
            }
            return storage.waiters.remove(at: index).continuation
        }
        continuation?.resume(throwing: error)
    }
}
