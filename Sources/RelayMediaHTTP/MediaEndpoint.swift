import RelayCore
import RelayMedia

/// What the media routes serve from: the region's blob store, the URL
/// signer, the limits, and this node's upload buckets and locks.
public struct MediaEndpoint: Sendable {
    /// Where blobs are.
    public let store: any BlobStore
    /// Verifies the URLs.
    public let signer: MediaURLSigner
    /// The region's limits.
    public let limits: MediaLimits
    /// Uploads each user may start.
    public let rate: UploadRateLimiter
    /// PATCHes in progress.
    public let locks = UploadLocks()
    /// Unix milliseconds now.
    public let now: @Sendable () -> Int64
    /// Called when an upload completes (mirroring to the standby).
    public let completed: @Sendable (BlobState) -> Void
    /// Called before an upload is reported complete (its last PATCH's
    /// answer, a HEAD or PATCH of a complete upload): in sync mode it
    /// returns once the standby has the copy, or throws the refusal to
    /// answer (503, retryable; the blob stays stored).
    public let confirm: @Sendable (BlobState) async throws(MediaRefusal) -> Void

    /// An endpoint over `store`.
    public init(store: any BlobStore, signer: MediaURLSigner, limits: MediaLimits, now: @escaping @Sendable () -> Int64,
                completed: @escaping @Sendable (BlobState) -> Void = { _ in },
                confirm: @escaping @Sendable (BlobState) async throws(MediaRefusal) -> Void = { _ in }) {
        self.store = store
        self.signer = signer
        self.limits = limits
        self.rate = UploadRateLimiter(burst: limits.uploadBurst, perSecond: limits.uploadsPerSecond)
        self.now = now
        self.completed = completed
        self.confirm = confirm
    }

    var nowSeconds: Int64 { now() / 1000 }
}
