import Foundation
import NIOCore
import RelayCore
import _NIOFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// Blobs in a directory of the region's disk (`mediaDir`), through
/// NIOFileSystem's thread pool (never blocking an event loop):
///
/// - `uploads/<id>` the bytes received so far, `uploads/<id>.json` its record;
/// - `blobs/<id>` a complete blob, `blobs/<id>.json` its record.
///
/// The stored offset of an upload is the size of `uploads/<id>`: bytes are
/// written in order, so what a crash leaves is a prefix the client can
/// resume after. With `syncsUploads` (the default) they are synced before a
/// PATCH is answered, so an answered offset survives a power loss; without
/// it they are answered from the page cache (as nginx and most object
/// stores' local disks do), and a power loss may take back the last
/// seconds of uploads, which a client sees as a smaller offset (an
/// unfinished upload) or a missing blob. Completing writes the record to
/// `blobs/` (always synced) and then renames the bytes there: a blob is
/// complete exactly when `blobs/<id>` exists.
public struct FileBlobStore: BlobStore {
    /// The directory.
    public let root: String
    /// Whether a PATCH's bytes are synced to disk before it is answered.
    public let syncsUploads: Bool
    private let fileSystem: FileSystem
    /// Bytes gathered before one write (bounds memory per upload).
    static let writeChunk = 512 * 1024

    /// A store in `root` (created with its subdirectories when missing).
    public init(root: String, syncsUploads: Bool = true, fileSystem: FileSystem = .shared) async throws {
        self.root = root
        self.syncsUploads = syncsUploads
        self.fileSystem = fileSystem
        for directory in ["uploads", "blobs"] {
            try await fileSystem.createDirectory(at: FilePath("\(root)/\(directory)"), withIntermediateDirectories: true, permissions: nil)
        }
    }

    private func path(_ folder: String, _ id: String, _ suffix: String = "") -> FilePath {
        FilePath("\(root)/\(folder)/\(id)\(suffix)")
    }

    public func create(_ record: BlobRecord) async throws(MediaRefusal) {
        guard let id = MediaID(rawValue: record.id) else { throw .badRequest("not a blob id") }
        if let existing = try await state(of: id) {
            guard existing.record.user == record.user, existing.record.length == record.length else {
                throw .conflict("blob \(id) exists already")
            }
            return
        }
        try await io("create the upload") {
            try await writeRecord(record, to: path("uploads", record.id, ".json"))
            try await fileSystem.withFileHandle(forWritingAt: path("uploads", record.id), options: .newFile(replaceExisting: true)) { _ in }
        }
    }

    public func state(of id: MediaID) async throws(MediaRefusal) -> BlobState? {
        try await io("read the blob's state") {
            if try await fileSystem.info(forFileAt: path("blobs", id.rawValue), infoAboutSymbolicLink: false) != nil,
               let record = try await readRecord(path("blobs", id.rawValue, ".json")) {
                return BlobState(record: record, offset: record.length, isComplete: true)
            }
            guard let record = try await readRecord(path("uploads", id.rawValue, ".json")) else { return nil }
            let size = try await fileSystem.info(forFileAt: path("uploads", id.rawValue), infoAboutSymbolicLink: false)?.size ?? 0
            return BlobState(record: record, offset: UInt64(clamping: size), isComplete: false)
        }
    }

    public func append<Body: AsyncSequence & Sendable>(_ id: MediaID, at offset: UInt64, body: Body) async throws(MediaRefusal) -> UInt64
        where Body.Element == ByteBuffer {
        guard let state = try await state(of: id) else { throw .notFound("no upload \(id)") }
        guard !state.isComplete else { throw .conflict("upload \(id) is complete") }
        let length = state.record.length
        var written = offset
        var refusal: MediaRefusal?
        do {
            try await fileSystem.withFileHandle(forWritingAt: path("uploads", id.rawValue), options: .modifyFile(createIfNecessary: false)) { handle in
                var pending = ByteBuffer()
                func flush() async throws {
                    guard pending.readableBytes > 0 else { return }
                    try await handle.write(contentsOf: pending, toAbsoluteOffset: Int64(clamping: written))
                    written += UInt64(pending.readableBytes)
                    pending.clear()
                }
                do {
                    for try await chunk in body {
                        let already = written + UInt64(pending.readableBytes)
                        guard TusRules.fits(chunk: chunk.readableBytes, written: already, length: length) else {
                            refusal = .tooLarge("the body carries the upload past its length \(length)")
                            break
                        }
                        var chunk = chunk
                        pending.writeBuffer(&chunk)
                        if pending.readableBytes >= Self.writeChunk { try await flush() }
                    }
                } catch {
                    // The client went away: keep what came, so that it resumes after it.
                    try await flush()
                    if syncsUploads { try await handle.synchronize() }
                    throw error
                }
                try await flush()
                if syncsUploads { try await handle.synchronize() }
            }
        } catch {
            throw Self.refusal(for: error, doing: "store the upload")
        }
        if let refusal { throw refusal }
        if written == length { try await complete(state.record) }
        return written
    }

    private func complete(_ record: BlobRecord) async throws(MediaRefusal) {
        try await io("complete the blob") {
            try await writeRecord(record, to: path("blobs", record.id, ".json"))
            try await fileSystem.moveItem(at: path("uploads", record.id), to: path("blobs", record.id))
            _ = try await fileSystem.removeItem(at: path("uploads", record.id, ".json"), strategy: .platformDefault, recursively: false)
        }
    }

    public func read(_ id: MediaID, first: UInt64, last: UInt64, into sink: (ByteBuffer) async throws -> Void) async throws {
        guard first <= last, last < UInt64(Int64.max) else { return }
        try await fileSystem.withFileHandle(forReadingAt: path("blobs", id.rawValue)) { handle in
            for try await chunk in handle.readChunks(in: Int64(first)..<(Int64(last) + 1), chunkLength: .kibibytes(256)) {
                try await sink(chunk)
            }
        }
    }

    public func remove(_ id: MediaID) async throws(MediaRefusal) {
        try await io("remove the blob") {
            for p in [path("blobs", id.rawValue), path("blobs", id.rawValue, ".json"), path("blobs", id.rawValue, ".mirrored"),
                      path("uploads", id.rawValue), path("uploads", id.rawValue, ".json")] {
                _ = try await fileSystem.removeItem(at: p, strategy: .platformDefault, recursively: false)
            }
        }
    }

    public func all() async throws(MediaRefusal) -> [BlobState] {
        var ids: Set<String> = []
        try await io("list the blobs") {
            for folder in ["uploads", "blobs"] {
                try await fileSystem.withDirectoryHandle(atPath: FilePath("\(root)/\(folder)")) { directory in
                    for try await entry in directory.listContents() {
                        let name = entry.name.string
                        let id = String(name.prefix(MediaID.length))
                        if MediaID(rawValue: id) != nil { ids.insert(id) }
                    }
                }
            }
        }
        var states: [BlobState] = []
        for raw in ids.sorted() {
            guard let id = MediaID(rawValue: raw) else { continue }
            if let state = try await state(of: id) { states.append(state) }
        }
        return states
    }

    public func isMirrored(_ id: MediaID) async -> Bool {
        (try? await fileSystem.info(forFileAt: path("blobs", id.rawValue, ".mirrored"), infoAboutSymbolicLink: false)) != nil
    }

    public func setMirrored(_ id: MediaID) async throws(MediaRefusal) {
        try await io("note the mirror") {
            try await fileSystem.withFileHandle(forWritingAt: path("blobs", id.rawValue, ".mirrored"), options: .newFile(replaceExisting: true)) { _ in }
        }
    }

    public func freeBytes() -> UInt64 {
        var info = statvfs()
        guard statvfs(root, &info) == 0 else { return 0 }
        return UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
    }

    // MARK: - Records

    private func writeRecord(_ record: BlobRecord, to target: FilePath) async throws {
        let data = try JSONEncoder().encode(record)
        let temporary = FilePath(target.string + ".tmp")
        try await fileSystem.withFileHandle(forWritingAt: temporary, options: .newFile(replaceExisting: true)) { handle in
            try await handle.write(contentsOf: Array(data), toAbsoluteOffset: 0)
            try await handle.synchronize()
        }
        _ = try await fileSystem.removeItem(at: target, strategy: .platformDefault, recursively: false)
        try await fileSystem.moveItem(at: temporary, to: target)
    }

    private func readRecord(_ source: FilePath) async throws -> BlobRecord? {
        guard try await fileSystem.info(forFileAt: source, infoAboutSymbolicLink: false) != nil else { return nil }
        let buffer = try await fileSystem.withFileHandle(forReadingAt: source) { handle in
            try await handle.readToEnd(maximumSizeAllowed: .kibibytes(16))
        }
        return try? JSONDecoder().decode(BlobRecord.self, from: Data(buffer.readableBytesView))
    }

    // MARK: - Errors

    private func io<T>(_ doing: String, _ body: () async throws -> T) async throws(MediaRefusal) -> T {
        do {
            return try await body()
        } catch {
            throw Self.refusal(for: error, doing: doing)
        }
    }

    /// 507 for a full disk (ENOSPC, EDQUOT), the refusal itself for one, 500 otherwise.
    static func refusal(for error: any Error, doing: String) -> MediaRefusal {
        if let refusal = error as? MediaRefusal { return refusal }
        if let fs = error as? FileSystemError, let call = fs.cause as? FileSystemError.SystemCallError,
           call.errno == .noSpace || call.errno == .diskQuotaExceeded {
            return .insufficientStorage("the region's disk is full: could not \(doing); retry later")
        }
        return .internalError("could not \(doing): \(error)")
    }
}
