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

    /// An endpoint over `store`.
    public init(store: any BlobStore, signer: MediaURLSigner, limits: MediaLimits, now: @escaping @Sendable () -> Int64,
                completed: @escaping @Sendable (BlobState) -> Void = { _ in }) {
        self.store = store
        self.signer = signer
        self.limits = limits
        self.rate = UploadRateLimiter(burst: limits.uploadBurst, perSecond: limits.uploadsPerSecond)
        self.now = now
        self.completed = completed
    }

    var nowSeconds: Int64 { now() / 1000 }
}
