import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayMedia

/// What answers `q/media.upload` and `q/media.download` in a region: the
/// limits, the signer, the quota, and where each region's listener is.
struct MediaAuthority: Sendable {
    let region: String
    let limits: MediaLimits
    let signer: MediaURLSigner
    let quota: MediaQuota
    /// `http://HOST:PORT` of each region's listener (this one's `mediaURL` if set).
    let baseURLs: [String: String]
}

/// The router's media authority, once the node has started its media part
/// (nil while media is off: requests are answered `unavailable`).
final class MediaHook: Sendable {
    private let box = NIOLockedValueBox<MediaAuthority?>(nil)

    init() {}

    var attached: MediaAuthority? { box.withLockedValue { $0 } }

    func attach(_ authority: MediaAuthority) {
        box.withLockedValue { $0 = authority }
    }
}
