import NIOCore
import RelayCore

/// Where a region keeps media blobs: the filesystem by default
/// (``FileBlobStore``). An implementation streams: no call holds a whole
/// blob in memory.
public protocol BlobStore: Sendable {
    /// Starts an upload of `record` (offset 0). Creating the same upload
    /// again (same uploader and length) is accepted, so that a client may
    /// retry a creation whose answer it lost; another one with that id is
    /// 409.
    func create(_ record: BlobRecord) async throws(MediaRefusal)

    /// The blob's state, or nil when it does not exist.
    func state(of id: MediaID) async throws(MediaRefusal) -> BlobState?

    /// Appends `body` at `offset` (the stored offset, checked by the
    /// caller under the upload's lock), at most up to the length; returns
    /// the new offset. Bytes received before a failure stay stored (the
    /// client resumes after them). Completes the blob when the last byte
    /// is written.
    func append<Body: AsyncSequence & Sendable>(_ id: MediaID, at offset: UInt64, body: Body) async throws(MediaRefusal) -> UInt64
        where Body.Element == ByteBuffer

    /// The bytes `first...last` of a complete blob, in chunks, written to `sink` as they are read.
    func read(_ id: MediaID, first: UInt64, last: UInt64, into sink: (ByteBuffer) async throws -> Void) async throws

    /// Removes a blob, complete or not (nothing when it is not there).
    func remove(_ id: MediaID) async throws(MediaRefusal)

    /// Every blob's state (for garbage collection).
    func all() async throws(MediaRefusal) -> [BlobState]

    /// Free bytes where blobs are written.
    func freeBytes() -> UInt64

    /// Whether the blob's copy reached its standby.
    func isMirrored(_ id: MediaID) async -> Bool

    /// Notes that the blob's copy reached its standby.
    func setMirrored(_ id: MediaID) async throws(MediaRefusal)
}
