import Synchronization

/// Uploads with a PATCH in progress on this node: a second PATCH of the same
/// upload meanwhile is 409 (tus leaves concurrent PATCHes to the server;
/// two writers at one offset would interleave).
public final class UploadLocks: Sendable {
    private let held = Mutex<Set<String>>([])

    /// No upload locked.
    public init() {}

    /// Runs `body` holding `id`'s lock, or throws 409 when another holds it.
    public func withLock<T>(_ id: String, _ body: () async throws(MediaRefusal) -> T) async throws(MediaRefusal) -> T {
        guard held.withLock({ $0.insert(id).inserted }) else {
            throw .conflict("another PATCH of this upload is in progress")
        }
        defer { _ = held.withLock { $0.remove(id) } }
        return try await body()
    }
}
