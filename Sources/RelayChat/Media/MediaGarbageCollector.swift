import Logging
import NIOCore
import RelayCore
import RelayMedia

/// Removes blobs past their keeping (``MediaLimits/isExpired(createdAt:complete:now:)``:
/// complete ones after the retention, never-completed uploads sooner) and
/// gives their bytes back to the uploader's quota (not for a standby's copy,
/// whose quota is counted where it was uploaded).
package struct MediaGarbageCollector: Sendable {
    let store: any BlobStore
    let limits: MediaLimits
    let quota: MediaQuota
    let loop: any EventLoop
    let logger: Logger

    /// A collector of `store`'s expired blobs.
    package init(store: any BlobStore, limits: MediaLimits, quota: MediaQuota, loop: any EventLoop, logger: Logger) {
        self.store = store
        self.limits = limits
        self.quota = quota
        self.loop = loop
        self.logger = logger
    }

    /// One pass at `now` (unix seconds); the number of blobs removed.
    @discardableResult
    func collect(now: Int64) async -> Int {
        guard let states = try? await store.all() else { return 0 }
        var removed = 0
        for state in states where limits.isExpired(createdAt: state.record.createdAt, complete: state.isComplete, now: now) {
            guard let id = MediaID(rawValue: state.record.id) else { continue }
            do {
                try await store.remove(id)
                removed += 1
                if state.record.copy != true {
                    try await quota.release(user: state.record.user, bytes: state.record.length, on: loop).get()
                }
            } catch {
                logger.warning("media: removing an expired blob failed; retried at the next pass", metadata: ["blob": "\(id)", "error": "\(error)"])
            }
        }
        if removed > 0 { logger.info("media: expired blobs removed", metadata: ["count": "\(removed)"]) }
        return removed
    }
}
