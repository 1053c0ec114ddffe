import RelayCore

/// What one signed media URL allows: one use of one blob until a time
/// (docs/media.md, decision 0022). The URL carries these fields in its query
/// and an HMAC over them; the listener believes none of them unsigned.
public struct MediaGrantClaims: Hashable, Sendable {
    /// Upload (tus: POST, HEAD, PATCH), download (GET, HEAD), or a copy
    /// pushed by the blob's region to its standby (PUT).
    public enum Use: String, Hashable, Sendable {
        case upload, download, mirror
    }

    /// The one use the URL allows.
    public var use: Use
    /// The blob.
    public var id: MediaID
    /// The blob's region (the uploader's home).
    public var region: String
    /// The uploader (upload); empty for a download.
    public var user: String
    /// The declared length (upload); 0 for a download.
    public var length: UInt64
    /// Unix seconds after which the URL is refused (403).
    public var expiresAt: Int64

    /// Claims for `use` of `id`.
    public init(use: Use, id: MediaID, region: String, user: String = "", length: UInt64 = 0, expiresAt: Int64) {
        self.use = use
        self.id = id
        self.region = region
        self.user = user
        self.length = length
        self.expiresAt = expiresAt
    }

    /// The bytes the signature covers: every field, each on its own line
    /// after a version tag (no field may hold a newline: ids and regions are
    /// checked before signing and after parsing).
    var signedText: String {
        "relay-media-v1\n\(use.rawValue)\n\(id.rawValue)\n\(region)\n\(user)\n\(length)\n\(expiresAt)"
    }
}
