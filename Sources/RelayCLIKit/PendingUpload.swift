import Crypto
import Foundation

/// An upload relay-cli started and has not finished, kept in the state
/// directory (`uploads/<key>.json`, mode 0600: it holds the attachment key)
/// so that `send --file` run again resumes it from the stored offset
/// instead of starting over.
struct PendingUpload: Codable {
    var url: String
    var expiresAt: UInt64
    var id: String
    var region: String
    /// The sealed copy of the file (in the state directory).
    var sealedPath: String
    var key: Data
    var digest: Data
    var size: UInt64
    var storedSize: UInt64

    /// The file a pending upload of `file` (by its path, size and
    /// modification time) is kept in.
    static func record(for file: URL, in state: URL) throws -> URL {
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let name = SHA256.hash(data: Data("\(file.standardizedFileURL.path)\n\(size)\n\(modified)".utf8))
            .map { String(format: "%02x", $0) }.joined().prefix(32)
        return state.appendingPathComponent("uploads").appendingPathComponent("\(name).json")
    }

    static func load(_ path: URL) -> PendingUpload? {
        guard let data = FileManager.default.contents(atPath: path.path) else { return nil }
        return try? JSONDecoder().decode(PendingUpload.self, from: data)
    }

    func save(_ path: URL) throws {
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try JSONEncoder().encode(self).write(to: path, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path.path)
    }
}
