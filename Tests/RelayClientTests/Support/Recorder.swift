import Synchronization

/// Collects what an async sequence yields so tests can wait (bounded) for an element.
final class Recorder<Element: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var predicate: @Sendable (Element) -> Bool
        var continuation: CheckedContinuation<Element?, Never>
    }

    private struct State {
        var seen: [Element] = []
        var consumed = 0
        var waiters: [Waiter] = []
        var nextID = 0
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element {
        let task = Task { [self] in
            do {
                for try await element in sequence { self.record(element) }
            } catch {}
        }
        self.task.withLock { $0 = task }
    }

    deinit { task.withLock { $0?.cancel() } }

    /// Everything seen so far.
    var all: [Element] { state.withLock { $0.seen } }

    /// The first element after the ones already returned by `next` that matches
    /// `predicate`, waiting at most `timeout`; nil on timeout.
    func next(timeout: Duration = .seconds(10),
              where predicate: @escaping @Sendable (Element) -> Bool = { _ in true }) async -> Element? {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        return await withCheckedContinuation { continuation in
            let found = state.withLock { state -> Element? in
                while state.consumed < state.seen.count {
                    let element = state.seen[state.consumed]
                    state.consumed += 1
                    if predicate(element) { return element }
                }
                state.waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
                return nil
            }
            if let found {
                continuation.resume(returning: found)
                return
            }
            timer = Task { [self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                let waiter = state.withLock { state -> Waiter? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index)
                }
                waiter?.continuation.resume(returning: nil)
            }
        }
    }

    private func record(_ element: Element) {
        let waiter = state.withLock { state -> Waiter? in
            state.seen.append(element)
            guard let first = state.waiters.first else { return nil }
            state.consumed = state.seen.count
            if first.predicate(element) {
                return state.waiters.removeFirst()
            }
            return nil
        }
        waiter?.continuation.resume(returning: element)
    }
}
