#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemRead = Musl.read
private let systemWrite = Musl.write
#elseif canImport(Darwin)
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif

/// Small POSIX file operations for key files: exact modes, no clobbering,
/// and errno turned into ``DeploymentKeyError``.
enum KeyFile {
    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Creates `directory` (and its parents) with mode 0700 where missing.
    static func makeDirectory(_ directory: String) throws {
        guard !directory.isEmpty else { return }
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw DeploymentKeyError(.writeFailed, path: prefix, "cannot create directory \(prefix): \(errorText())")
            }
            prefix += "/"
        }
    }

    /// Writes `contents` to `path` with `mode`, only if nothing is there yet.
    /// The file appears whole or not at all: it is written under a temporary
    /// name, then hard-linked into place (which fails if `path` exists).
    static func createExclusively(_ path: String, contents: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())"
        try write(temporary, contents: contents, mode: mode)
        defer { unlink(temporary) }
        if link(temporary, path) != 0 {
            if errno == EEXIST {
                throw DeploymentKeyError(.alreadyExists, path: path, "\(path) already exists; it is never overwritten")
            }
            throw DeploymentKeyError(.writeFailed, path: path, "cannot write \(path): \(errorText())")
        }
        syncDirectory(of: path)
    }

    /// Writes `contents` to `path` with `mode`, atomically replacing what is there.
    static func replace(_ path: String, contents: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())"
        try write(temporary, contents: contents, mode: mode)
        if rename(temporary, path) != 0 {
            let text = errorText()
            unlink(temporary)
            throw DeploymentKeyError(.writeFailed, path: path, "cannot write \(path): \(text)")
        }
        syncDirectory(of: path)
    }

    /// Reads the whole of `path` as UTF-8.
    static func read(_ path: String, what: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT {
                throw DeploymentKeyError(.missing, path: path, "no \(what) at \(path)")
            }
            throw DeploymentKeyError(.unreadable, path: path, "cannot read \(path): \(errorText())")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DeploymentKeyError(.unreadable, path: path, "cannot read \(path): \(errorText())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
            if bytes.count > 64 * 1024 {
                throw DeploymentKeyError(.malformed, path: path, "\(path) is too large to be a key")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Creates or truncates `path` with exactly `mode`, writes and syncs.
    private static func write(_ path: String, contents: String, mode: mode_t) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd < 0 {
            throw DeploymentKeyError(.writeFailed, path: path, "cannot create \(path): \(errorText())")
        }
        defer { close(fd) }
        // The umask may have cleared bits of `mode`; the key's mode is part of its contract.
        if fchmod(fd, mode) != 0 {
            throw DeploymentKeyError(.writeFailed, path: path, "cannot set the mode of \(path): \(errorText())")
        }
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DeploymentKeyError(.writeFailed, path: path, "cannot write \(path): \(errorText())")
            }
            offset += n
        }
        if fsync(fd) != 0 {
            throw DeploymentKeyError(.writeFailed, path: path, "cannot sync \(path): \(errorText())")
        }
    }

    private static func syncDirectory(of path: String) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
