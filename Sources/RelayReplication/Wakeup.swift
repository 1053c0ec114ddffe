import NIOConcurrencyHelpers

/// A level-triggered wake-up for one waiting loop: `notify()` bumps a
/// generation, and `wait(after:timeout:)` returns as soon as the generation
/// is past the one the loop read before looking for work, so a
/// notification between "look" and "wait" is never lost.
public final class Wakeup: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextToken: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Timers that fired before their waiter was registered.
        var expired: Set<UInt64> = []
    }

    private let state = NIOLockedValueBox(State())

    /// A wake-up nobody has notified yet.
    public init() {}

    /// The current generation; read it before looking for work.
    public var generation: UInt64 { state.withLockedValue { $0.generation } }

    /// Wakes every waiter, and any later `wait` after an older generation.
    public func notify() {
        let waiters = state.withLockedValue { state in
            state.generation &+= 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the generation is past `generation`, or after `timeout`.
    public func wait(after generation: UInt64, timeout: Duration) async {
        let token = state.withLockedValue { state in
            state.nextToken += 1
            return state.nextToken
        }
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.fire(token)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { state -> Bool in
                if state.generation != generation || state.expired.remove(token) != nil { return true }
                state.waiters[token] = continuation
                return false
            }
            if now { continuation.resume() }
        }
        // Once the timer has finished, nothing can mark this token again.
        timer.cancel()
        await timer.value
        _ = state.withLockedValue { $0.expired.remove(token) }
    }

    private func fire(_ token: UInt64) {
        let waiter = state.withLockedValue { state in
            guard let waiter = state.waiters.removeValue(forKey: token) else {
                state.expired.insert(token)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }
}
