import RelayCore

/// What the store keeps about one blob beside its bytes. Holds no content
/// and no key: only sizes, the uploader and times (docs/media.md).
public struct BlobRecord: Codable, Hashable, Sendable {
    /// The blob's id (``MediaID``'s raw value).
    public var id: String
    /// The uploader's home region.
    public var region: String
    /// The uploader (quota is counted against them).
    public var user: String
    /// The declared length in bytes.
    public var length: UInt64
    /// The declared content class.
    public var contentClass: String
    /// Unix seconds when the upload was created.
    public var createdAt: Int64
    /// True on a standby's copy (its quota is counted where it was uploaded).
    public var copy: Bool?

    /// A record of a new upload.
    public init(id: MediaID, region: String, user: String, length: UInt64, contentClass: String, createdAt: Int64) {
        self.id = id.rawValue
        self.region = region
        self.user = user
        self.length = length
        self.contentClass = contentClass
        self.createdAt = createdAt
    }
}

/// A blob in the store and how far its upload got.
public struct BlobState: Hashable, Sendable {
    /// Its record.
    public var record: BlobRecord
    /// Bytes stored so far (equal to the length once complete).
    public var offset: UInt64
    /// Whether every byte is there (and the blob may be downloaded).
    public var isComplete: Bool

    /// A state.
    public init(record: BlobRecord, offset: UInt64, isComplete: Bool) {
        self.record = record
        self.offset = offset
        self.isComplete = isComplete
    }
}
