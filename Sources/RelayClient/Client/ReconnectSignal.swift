import Synchronization

/// Counts established connections and wakes whoever waits for the next one
/// (a send resends after a reconnect).
final class ReconnectSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: (after: UInt64, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextToken: UInt64 = 0
    }

    private let state = Mutex(State())

    /// How many connections were established so far.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// A connection was established: wakes every waiter.
    func advance() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Returns once a connection after `generation` is established, or when the task is cancelled.
    func wait(beyond generation: UInt64) async {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if state.generation > generation || Task.isCancelled { return true }
                    state.waiters[token] = (generation, continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: token) }
            waiter?.continuation.resume()
        }
    }
}
