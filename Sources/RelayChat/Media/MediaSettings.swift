import ArgumentParser
import RelayMedia
import RelayTopology

/// A region's media settings (`regions/<name>.json`, keys `media*`;
/// docs/media.md). Media is on when `mediaDir` is set and the node has an
/// HTTP listener (`--http-listen`).
package struct MediaSettings: Sendable {
    /// Where blobs are kept (a directory per region).
    package var directory: String
    /// The limits.
    package var limits: MediaLimits
    /// This region's base URL in the URLs it hands out, when not the
    /// topology's `http` address (behind a proxy or TLS terminator).
    package var publicURL: String?
    /// Seconds between garbage collections (and retried copies to the standby).
    package var sweepSeconds: Int64 = 60

    /// The settings of `region`, or nil when media is off there.
    package static func from(_ region: RegionSettings) throws -> MediaSettings? {
        guard let directory = region.mediaDir else { return nil }
        var limits = MediaLimits()
        if let v = region.mediaMaxBytes {
            guard v > 0 else { throw ValidationError("mediaMaxBytes must be at least 1") }
            limits.maximumBytes = v
        }
        if let v = region.mediaQuotaBytes { limits.quotaBytes = v }
        if let days = region.mediaRetentionDays {
            guard (1...3650).contains(days) else { throw ValidationError("mediaRetentionDays must be 1…3650") }
            limits.retentionSeconds = Int64(days) * 86_400
        }
        if let v = region.mediaRetentionSeconds {
            guard v >= 1 else { throw ValidationError("mediaRetentionSeconds must be at least 1") }
            limits.retentionSeconds = v
        }
        if let v = region.mediaIncompleteSeconds {
            guard v >= 1 else { throw ValidationError("mediaIncompleteSeconds must be at least 1") }
            limits.incompleteSeconds = v
        }
        if let v = region.mediaURLSeconds {
            guard (1...7 * 86_400).contains(v) else { throw ValidationError("mediaURLSeconds must be 1…604800") }
            limits.urlSeconds = v
        }
        if let v = region.mediaMinFreeBytes { limits.minimumFreeBytes = v }
        if let v = region.mediaUploadBurst {
            guard v >= 1 else { throw ValidationError("mediaUploadBurst must be at least 1") }
            limits.uploadBurst = v
        }
        if let v = region.mediaUploadsPerSecond {
            guard v > 0 else { throw ValidationError("mediaUploadsPerSecond must be above 0") }
            limits.uploadsPerSecond = v
        }
        if let url = region.mediaURL {
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), !url.hasSuffix("/") else {
                throw ValidationError("mediaURL must be an http(s) URL without a trailing /")
            }
        }
        var settings = MediaSettings(directory: directory, limits: limits, publicURL: region.mediaURL)
        if let v = region.mediaSweepSeconds {
            guard (1...86_400).contains(v) else { throw ValidationError("mediaSweepSeconds must be 1…86400") }
            settings.sweepSeconds = v
        }
        return settings
    }
}
