import Synchronization

/// Answers awaited by key: acknowledgements by packet identifier (PUBACK,
/// SUBACK), responses by correlation id, statuses by client message id.
///
/// `register` runs the call that assigns the key (e.g. the libmosquitto call
/// that assigns a packet identifier) while
/// holding the table's lock, so an acknowledgement that the network thread
/// reports before the caller starts waiting is kept, never lost. This cannot
/// deadlock: the network thread takes this lock only from callbacks, and the
/// libmosquitto calls made under it (`mosquitto_publish_v5`,
/// `mosquitto_subscribe_v5`) take only libmosquitto's message and packet queue
/// mutexes, which the network thread does not hold while calling back.
package final class WaiterTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private enum Slot {
        case pending
        case waiting(UInt64, CheckedContinuation<Value, any Error>)
        case done(Value)
    }

    private struct State {
        var slots: [Key: Slot] = [:]
        var nextToken: UInt64 = 0
    }

    private let state = Mutex(State())

    /// An empty table.
    package init() {}

    /// Runs `assign`, which returns a key, and expects an answer for it.
    func register<E: Error>(_ assign: () throws(E) -> Key) throws(E) -> Key {
        try state.withLock { (state) throws(E) -> Key in
            let id = try assign()
            state.slots[id] = .pending
            return id
        }
    }

    /// Reports the acknowledgement for `id`; ignored when nobody expects it.
    package func resolve(_ id: Key, _ value: Value) {
        let waiter: CheckedContinuation<Value, any Error>? = state.withLock { state in
            switch state.slots[id] {
            case .pending:
                state.slots[id] = .done(value)
                return nil
            case .waiting(_, let continuation):
                state.slots[id] = nil
                return continuation
            case .done, nil:
                return nil
            }
        }
        waiter?.resume(returning: value)
    }

    /// Waits at most `timeout` for the acknowledgement of a registered `id`.
    package func wait(for id: Key, timeout: Duration) async throws -> Value {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let ready: Value? = state.withLock { state in
                    if case .done(let value) = state.slots[id] {
                        state.slots[id] = nil
                        return value
                    }
                    state.slots[id] = .waiting(token, continuation)
                    return nil
                }
                if let ready {
                    continuation.resume(returning: ready)
                    return
                }
                if Task.isCancelled {
                    self.abandon(id, token)?.resume(throwing: CancellationError())
                    return
                }
                timer = Task {
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    self.abandon(id, token)?.resume(throwing: MosquittoClientError.timedOut)
                }
            }
        } onCancel: {
            self.abandon(id, token)?.resume(throwing: CancellationError())
        }
    }

    /// Expects an answer for `id`.
    package func expect(_ id: Key) {
        state.withLock { $0.slots[id] = .pending }
    }

    /// Stops expecting `id` (nobody will wait for it).
    package func forget(_ id: Key) {
        state.withLock { _ = $0.slots.removeValue(forKey: id) }
    }

    /// Fails every waiter with `error` and forgets every expected identifier.
    package func failAll(_ error: any Error) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, any Error>] in
            let waiting = state.slots.values.compactMap { slot -> CheckedContinuation<Value, any Error>? in
                if case .waiting(_, let c) = slot { return c }
                return nil
            }
            state.slots.removeAll()
            return waiting
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    private func abandon(_ id: Key, _ token: UInt64) -> CheckedContinuation<Value, any Error>? {
        state.withLock { state in
            guard case .waiting(let t, let continuation) = state.slots[id], t == token else { return nil }
            state.slots[id] = nil
            return continuation
        }
    }
}
