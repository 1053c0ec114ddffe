/// A region's media limits (`regions/<name>.json`, keys `media*`;
/// docs/media.md) and the decisions over them.
public struct MediaLimits: Hashable, Sendable {
    /// The largest blob, in bytes (default 100 MiB).
    public var maximumBytes: UInt64 = 100 * 1024 * 1024
    /// The bytes one user may hold in the region (granted uploads, complete or not).
    public var quotaBytes: UInt64 = 2 * 1024 * 1024 * 1024
    /// How long a complete blob is kept, in seconds (default 30 days).
    public var retentionSeconds: Int64 = 30 * 24 * 3600
    /// How long an upload may stay incomplete, in seconds (default 1 day).
    public var incompleteSeconds: Int64 = 24 * 3600
    /// How long a signed URL is valid, in seconds.
    public var urlSeconds: Int64 = 3600
    /// Free bytes the disk keeps: an upload that would leave less is 507.
    public var minimumFreeBytes: UInt64 = 64 * 1024 * 1024
    /// Uploads a user may start at once, and per second after (token bucket).
    public var uploadBurst: Double = 10
    public var uploadsPerSecond: Double = 1

    /// The defaults.
    public init() {}

    /// Refuses a declared length of 0 or above the maximum (413).
    public func checkLength(_ length: UInt64) throws(MediaRefusal) {
        guard length > 0 else { throw .badRequest("an upload has at least 1 byte") }
        guard length <= maximumBytes else { throw .tooLarge("\(length) bytes is above this region's maximum of \(maximumBytes)") }
    }

    /// Whether a user holding `used` bytes may be granted `adding` more.
    public func withinQuota(used: UInt64, adding: UInt64) -> Bool {
        used <= quotaBytes && adding <= quotaBytes - used
    }

    /// Refuses (507) when writing `needed` more bytes would leave the disk
    /// with less than ``minimumFreeBytes`` of its `free` bytes.
    public func checkRoom(free: UInt64, needed: UInt64) throws(MediaRefusal) {
        guard free >= minimumFreeBytes, needed <= free - minimumFreeBytes else {
            throw .insufficientStorage("the region's disk has no room for \(needed) more bytes; retry later")
        }
    }

    /// Whether a blob is past its keeping: complete ones after the
    /// retention, incomplete ones after ``incompleteSeconds``, counted from
    /// their creation (unix seconds).
    public func isExpired(createdAt: Int64, complete: Bool, now: Int64) -> Bool {
        let keep = complete ? retentionSeconds : incompleteSeconds
        return now.subtractingReportingOverflow(createdAt).partialValue >= keep
    }
}
