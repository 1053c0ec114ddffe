import NIOConcurrencyHelpers
import RelayCore

/// Copies of blobs in progress on this node, one at a time per blob: a
/// sweep and an upload waiting for its copy (sync mode) share one PUT
/// rather than racing two to the same standby (whose second would be
/// refused while the first holds the blob's lock).
final class CopyFlights: Sendable {
    private let running = NIOLockedValueBox<[MediaID: Task<Void, any Error>]>([:])

    init() {}

    /// The copy of `id` in progress, or a new one running `copy`. The task
    /// is forgotten when it ends (it is inserted under the lock before its
    /// own removal can take it).
    func copy(_ id: MediaID, _ copy: @escaping @Sendable () async throws -> Void) -> Task<Void, any Error> {
        running.withLockedValue { running in
            if let task = running[id] { return task }
            let task = Task {
                defer { self.running.withLockedValue { _ = $0.removeValue(forKey: id) } }
                try await copy()
            }
            running[id] = task
            return task
        }
    }

    /// Waits for `task` at most `limit`: its result, or nil when the time
    /// ran out first. The task goes on either way (awaiting a task's value
    /// cannot be cancelled, so the wait is a race between two watchers
    /// that resume one continuation once).
    static func wait(_ task: Task<Void, any Error>, atMost limit: Duration) async -> Result<Void, any Error>? {
        let slot = NIOLockedValueBox<CheckedContinuation<Result<Void, any Error>?, Never>?>(nil)
        @Sendable func finish(_ outcome: Result<Void, any Error>?) {
            slot.withLockedValue { continuation in
                continuation?.resume(returning: outcome)
                continuation = nil
            }
        }
        return await withCheckedContinuation { continuation in
            slot.withLockedValue { $0 = continuation }
            Task { finish(await task.result) }
            Task {
                try? await Task.sleep(for: limit)
                finish(nil)
            }
        }
    }
}
