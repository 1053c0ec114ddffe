import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayMedia

/// What answers `q/media.upload` and `q/media.download` in a region: the
/// limits, the signer, the quota, and where each region's listener is.
package struct MediaAuthority: Sendable {
    let region: String
    let limits: MediaLimits
    let signer: MediaURLSigner
    let quota: MediaQuota
    /// `http://HOST:PORT` of each region's listener (this one's `mediaURL` if set).
    let baseURLs: [String: String]

    /// An authority for `region`'s media.
    package init(region: String, limits: MediaLimits, signer: MediaURLSigner, quota: MediaQuota, baseURLs: [String: String]) {
        self.region = region
        self.limits = limits
        self.signer = signer
        self.quota = quota
        self.baseURLs = baseURLs
    }
}

/// The router's media authority, once the node has started its media part
/// (nil while media is off: requests are answered `unavailable`).
package final class MediaHook: Sendable {
    private let box = NIOLockedValueBox<MediaAuthority?>(nil)

    init() {}

    var attached: MediaAuthority? { box.withLockedValue { $0 } }

    package func attach(_ authority: MediaAuthority) {
        box.withLockedValue { $0 = authority }
    }
}
