import Foundation
import NIOCore
import RelayCore
import RelayMedia
import _NIOFileSystem

/// Blobs in an S3-compatible object store (docs/media.md, `mediaS3*`).
///
/// S3 has no append, and tus needs one: uploads are received into a local
/// spool (a ``FileBlobStore``, offsets and all) and, once complete, put to
/// the bucket (multipart beyond 8 MiB) as `<prefix><id>` beside its record
/// `<prefix><id>.json`; then the spool's copy is removed. Reads come from
/// the bucket with a range.
public struct S3BlobStore: BlobStore {
    let spool: FileBlobStore
    let s3: S3Client
    /// Prefix of every key (the region's name and a slash).
    let prefix: String

    /// A store in `s3`'s bucket under `prefix`, spooling uploads in `spool`.
    public init(s3: S3Client, prefix: String, spool: FileBlobStore) {
        self.s3 = s3
        self.prefix = prefix
        self.spool = spool
    }

    private func key(_ id: MediaID, _ suffix: String = "") -> String { "\(prefix)\(id.rawValue)\(suffix)" }

    public func create(_ record: BlobRecord) async throws(MediaRefusal) {
        guard let id = MediaID(rawValue: record.id) else { throw .badRequest("not a blob id") }
        if let existing = try await state(of: id) {
            guard existing.record.user == record.user, existing.record.length == record.length else { throw .conflict("blob \(id) exists already") }
            return
        }
        try await spool.create(record)
    }

    public func state(of id: MediaID) async throws(MediaRefusal) -> BlobState? {
        if let local = try await spool.state(of: id) { return local }
        return try await io("read the blob's record") {
            guard let buffer = try await s3.get(key(id, ".json")),
                  let record = try? JSONDecoder().decode(BlobRecord.self, from: Data(buffer.readableBytesView))
            else { return nil }
            return BlobState(record: record, offset: record.length, isComplete: true)
        }
    }

    public func append<Body: AsyncSequence & Sendable>(_ id: MediaID, at offset: UInt64, body: Body) async throws(MediaRefusal) -> UInt64
        where Body.Element == ByteBuffer {
        let written = try await spool.append(id, at: offset, body: body)
        if let state = try await spool.state(of: id), state.isComplete { try await offload(state, id: id) }
        return written
    }

    /// Puts a complete spooled blob to the bucket, then drops the spool's copy.
    private func offload(_ state: BlobState, id: MediaID) async throws(MediaRefusal) {
        let path = FilePath("\(spool.root)/blobs/\(id.rawValue)")
        try await io("put the blob to S3") {
            try await FileSystem.shared.withFileHandle(forReadingAt: path) { handle in
                try await s3.put(key(id), length: state.record.length) { offset, count in
                    try await handle.readChunk(fromAbsoluteOffset: Int64(offset), length: .bytes(Int64(count)))
                }
            }
            try await s3.put(key(id, ".json"), bytes: ByteBuffer(bytes: try JSONEncoder().encode(state.record)))
        }
        try await spool.remove(id)
    }

    public func read(_ id: MediaID, first: UInt64, last: UInt64, into sink: (ByteBuffer) async throws -> Void) async throws {
        if let local = try await spool.state(of: id), local.isComplete {
            try await spool.read(id, first: first, last: last, into: sink)
            return
        }
        try await s3.read(key(id), first: first, last: last, into: sink)
    }

    public func remove(_ id: MediaID) async throws(MediaRefusal) {
        try await spool.remove(id)
        try await io("remove the blob from S3") {
            for suffix in ["", ".json", ".mirrored"] { try await s3.delete(key(id, suffix)) }
        }
    }

    public func all() async throws(MediaRefusal) -> [BlobState] {
        var states = try await spool.all()
        let spooled = Set(states.map(\.record.id))
        let keys = try await io("list the bucket") { try await s3.keys(prefix: prefix) }
        for key in keys where key.hasSuffix(".json") {
            let raw = String(key.dropFirst(prefix.count).dropLast(5))
            guard let id = MediaID(rawValue: raw), !spooled.contains(raw), let state = try await state(of: id) else { continue }
            states.append(state)
        }
        return states
    }

    public func freeBytes() -> UInt64 {
        spool.freeBytes()
    }

    public func isMirrored(_ id: MediaID) async -> Bool {
        if await spool.isMirrored(id) { return true }
        return ((try? await s3.length(of: key(id, ".mirrored"))) ?? nil) != nil
    }

    public func setMirrored(_ id: MediaID) async throws(MediaRefusal) {
        try await io("note the mirror") { try await s3.put(key(id, ".mirrored"), bytes: ByteBuffer()) }
    }

    private func io<T>(_ doing: String, _ body: () async throws -> T) async throws(MediaRefusal) -> T {
        do {
            return try await body()
        } catch let refusal as MediaRefusal {
            throw refusal
        } catch {
            throw .internalError("could not \(doing): \(error)")
        }
    }
}
