import ArgumentParser
import Foundation
import RelayClient
import RelayCore
import RelayE2EE
import RelayMediaClient

/// `send --file` and `listen --save-dir` (docs/media.md): seal, upload
/// resumably, send the pointer end-to-end encrypted; fetch, verify, open.
enum FileAttachments {
    /// Seals `file`, uploads it to this device's home region (resuming a
    /// pending upload of the same file), and returns the pointer to send;
    /// with `thumbnail`, the pointer also carries that preview sealed
    /// under its own key (``AttachmentThumbnail``; never uploaded).
    static func upload(_ file: URL, contentType: String?, thumbnail: URL? = nil, messenger: SecureMessenger,
                       state: URL) async throws -> Relay_E2ee_V1_AttachmentPointer {
        guard FileManager.default.isReadableFile(atPath: file.path) else { throw ValidationError("cannot read \(file.path)") }
        let preview = try thumbnail.map(sealThumbnail)
        let recordPath = try PendingUpload.record(for: file, in: state)
        var pending = PendingUpload.load(recordPath)
        if let p = pending, p.expiresAt <= UInt64(Date().timeIntervalSince1970) + 60 || !FileManager.default.fileExists(atPath: p.sealedPath) {
            try? FileManager.default.removeItem(atPath: p.sealedPath)
            pending = nil
        }
        if pending == nil {
            try FileManager.default.createDirectory(at: recordPath.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let sealedPath = recordPath.deletingPathExtension().appendingPathExtension("sealed")
            let sealed = try AttachmentFiles.seal(file, into: sealedPath)
            var request = Relay_V1_Request()
            var upload = Relay_V1_MediaUpload()
            upload.length = sealed.storedSize
            upload.contentClass = contentClass(of: file).rawValue
            request.mediaUpload = upload
            let response = try await messenger.client.request(RequestMethod.mediaUpload.rawValue, request)
            if response.hasError {
                try? FileManager.default.removeItem(at: sealedPath)
                throw ValidationError("the relay refused the upload: \(response.error.code): \(response.error.message)")
            }
            let grant = response.media
            pending = PendingUpload(url: grant.url, expiresAt: grant.expiresAt, id: grant.id, region: grant.region, sealedPath: sealedPath.path,
                                    key: Data(sealed.key), digest: Data(sealed.digest), size: sealed.size, storedSize: sealed.storedSize)
            try pending?.save(recordPath)
        }
        guard let pending else { throw ValidationError("no upload") }
        let bar = ProgressBar(label: file.lastPathComponent, total: pending.storedSize)
        try await TusUploader().upload(URL(fileURLWithPath: pending.sealedPath), length: pending.storedSize, to: pending.url) { bar.show($0) }
        bar.finish()
        try? FileManager.default.removeItem(atPath: pending.sealedPath)
        try? FileManager.default.removeItem(at: recordPath)
        var pointer = Relay_E2ee_V1_AttachmentPointer()
        pointer.id = pending.id
        pointer.region = pending.region
        pointer.key = pending.key
        pointer.digest = pending.digest
        pointer.size = pending.size
        pointer.storedSize = pending.storedSize
        pointer.contentType = contentType ?? "application/octet-stream"
        pointer.fileName = file.lastPathComponent
        if let preview {
            pointer.encryptedThumbnail = Data(preview.sealed)
            pointer.thumbnailKey = Data(preview.key)
        }
        return pointer
    }

    /// The thumbnail file sealed (refused before anything is uploaded when it cannot be).
    static func sealThumbnail(_ path: URL) throws -> (sealed: [UInt8], key: [UInt8]) {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path.path)
        guard let size = attributes?[.size] as? Int, let bytes = FileManager.default.contents(atPath: path.path) else {
            throw ValidationError("cannot read the thumbnail \(path.path)")
        }
        guard size <= AttachmentThumbnail.maximumSize, bytes.count == size else {
            throw ValidationError("the thumbnail \(path.path) has \(size) bytes; at most \(AttachmentThumbnail.maximumSize) fit in a message: scale it down")
        }
        return try AttachmentThumbnail.seal(Array(bytes))
    }

    /// Where an attachment was saved: the file, and its thumbnail (`<file>.thumb`) when it had one.
    struct Saved {
        var file: String
        var thumbnail: String?
    }

    /// Downloads what `pointer` names, checks and opens it into `directory`,
    /// and its thumbnail (if any) next to it as `<file>.thumb`.
    static func save(_ pointer: Relay_E2ee_V1_AttachmentPointer, messenger: SecureMessenger, into directory: URL) async throws -> Saved {
        var request = Relay_V1_Request()
        var download = Relay_V1_MediaDownload()
        download.id = pointer.id
        download.region = pointer.region
        request.mediaDownload = download
        let response = try await messenger.client.request(RequestMethod.mediaDownload.rawValue, request)
        if response.hasError { throw ValidationError("the relay refused the download: \(response.error.code): \(response.error.message)") }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sealed = directory.appendingPathComponent(".\(pointer.id).sealed")
        defer { try? FileManager.default.removeItem(at: sealed) }
        try await BlobDownloader().download(response.media.url, to: sealed, expected: pointer.storedSize)
        let target = uniquePath(in: directory, name: safeName(pointer.fileName, id: pointer.id))
        try AttachmentFiles.open(sealed, into: target, key: Array(pointer.key), digest: Array(pointer.digest), size: pointer.size)
        guard !pointer.encryptedThumbnail.isEmpty else { return Saved(file: target.path) }
        let thumbnail = URL(fileURLWithPath: target.path + ".thumb")
        do {
            let bytes = try AttachmentThumbnail.open(Array(pointer.encryptedThumbnail), key: Array(pointer.thumbnailKey))
            try Data(bytes).write(to: thumbnail, options: .withoutOverwriting)
        } catch {
            throw ValidationError("\(target.path) is saved, but not its thumbnail: \(error)")
        }
        return Saved(file: target.path, thumbnail: thumbnail.path)
    }

    /// A file name from the sender that is only a name: no directory, no
    /// leading dot, no control characters; else the blob id.
    static func safeName(_ name: String, id: String) -> String {
        let base = (name as NSString).lastPathComponent
        guard !base.isEmpty, !base.hasPrefix("."), base.utf8.count <= 200,
              base.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0 != "/" && $0 != "\\" && $0.value != 0x7F })
        else { return id }
        return base
    }

    /// `name` in `directory`, or `name-<n>` when that exists.
    static func uniquePath(in directory: URL, name: String) -> URL {
        var candidate = directory.appendingPathComponent(name)
        var n = 1
        while FileManager.default.fileExists(atPath: candidate.path) {
            candidate = directory.appendingPathComponent("\(name)-\(n)")
            n += 1
        }
        return candidate
    }

    static func contentClass(of file: URL) -> MediaContentClass {
        switch file.pathExtension.lowercased() {
        case "jpg", "jpeg", "png", "gif", "webp", "heic": .image
        case "mp4", "mov", "webm", "mkv": .video
        case "mp3", "m4a", "ogg", "opus", "wav", "aac": .audio
        default: .file
        }
    }
}

/// A progress bar on standard error when it is a terminal (nothing otherwise).
final class ProgressBar: Sendable {
    private let label: String
    private let total: UInt64
    private let terminal = isatty(2) == 1

    init(label: String, total: UInt64) {
        self.label = label
        self.total = max(total, 1)
    }

    func show(_ done: UInt64) {
        guard terminal else { return }
        let width = 30
        let filled = Int(min(done, total) * UInt64(width) / total)
        let line = "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(min(done, total) * 100 / total)%"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard terminal else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
