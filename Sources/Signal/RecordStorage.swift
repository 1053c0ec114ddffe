import Foundation
import Synchronization

/// Named byte records: what `SignalRecordStore` keeps its state in. Keys
/// are made of `[a-z0-9._-]` only (the store hex-encodes names).
public protocol RecordStorage: AnyObject, Sendable {
    /// The record `key`, nil when absent.
    func read(_ key: String) throws -> Data?
    /// Replaces (or creates) record `key`; all or nothing.
    func write(_ data: Data, to key: String) throws
    /// Deletes record `key`; whether it existed.
    @discardableResult func remove(_ key: String) throws -> Bool
    /// The keys that start with `prefix`.
    func keys(withPrefix prefix: String) throws -> [String]
}

/// Records in memory (tests, benchmarks).
public final class MemoryRecordStorage: RecordStorage {
    private let records = Mutex<[String: Data]>([:])

    /// An empty storage.
    public init() {}

    public func read(_ key: String) throws -> Data? { records.withLock { $0[key] } }
    public func write(_ data: Data, to key: String) throws { records.withLock { $0[key] = data } }
    public func remove(_ key: String) throws -> Bool { records.withLock { $0.removeValue(forKey: key) != nil } }
    public func keys(withPrefix prefix: String) throws -> [String] {
        records.withLock { $0.keys.filter { $0.hasPrefix(prefix) }.sorted() }
    }
}

/// What went wrong with a state directory.
public struct RecordStorageError: Error, Sendable, CustomStringConvertible {
    /// What happened, with the path.
    public let description: String
}

/// Records as files in a directory that only the owner may enter (mode
/// 0700), one file per record, mode 0600, each written atomically: to a
/// temporary file in the same directory, flushed (`fsync`), then renamed
/// over the old one, so a crash leaves the old or the new record, never a
/// torn one.
public final class DirectoryRecordStorage: RecordStorage {
    /// The directory.
    public let directory: URL
    /// Serialises writers of this process (the files are the state; there is no cache).
    private let lock = Mutex<Void>(())

    /// Opens (creating if needed) `directory` and sets its mode to 0700.
    public init(directory: URL) throws {
        self.directory = directory
        let path = directory.path
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } else if !isDirectory.boolValue {
            throw RecordStorageError(description: "\(path) is not a directory")
        }
        guard chmod(path, 0o700) == 0 else {
            throw RecordStorageError(description: "cannot set mode 0700 on \(path): errno \(errno)")
        }
    }

    private func path(_ key: String) throws -> String {
        guard !key.isEmpty, !key.hasPrefix("."),
              key.unicodeScalars.allSatisfy({ "abcdefghijklmnopqrstuvwxyz0123456789._-".unicodeScalars.contains($0) })
        else { throw RecordStorageError(description: "bad record name \(key)") }
        return directory.appendingPathComponent(key).path
    }

    public func read(_ key: String) throws -> Data? {
        let path = try path(key)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    public func write(_ data: Data, to key: String) throws {
        let path = try path(key)
        try lock.withLock { _ in
            let temporary = directory.appendingPathComponent(".\(key).\(UInt64.random(in: 0 ... .max)).tmp").path
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw RecordStorageError(description: "cannot create \(temporary): errno \(errno)") }
            var failure: String?
            data.withUnsafeBytes { bytes in
                guard let base = bytes.baseAddress else { return }  // nothing to write
                var offset = 0
                while offset < bytes.count {
                    let n = Foundation.write(fd, base + offset, bytes.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = "write \(temporary): errno \(errno)"
                        return
                    }
                    offset += n
                }
            }
            if failure == nil, fsync(fd) != 0 { failure = "fsync \(temporary): errno \(errno)" }
            close(fd)
            if failure == nil, rename(temporary, path) != 0 { failure = "rename to \(path): errno \(errno)" }
            if let failure {
                unlink(temporary)
                throw RecordStorageError(description: failure)
            }
        }
    }

    public func remove(_ key: String) throws -> Bool {
        let path = try path(key)
        return lock.withLock { _ in unlink(path) == 0 }
    }

    public func keys(withPrefix prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(prefix) && !$0.hasPrefix(".") }
            .sorted()
    }
}
