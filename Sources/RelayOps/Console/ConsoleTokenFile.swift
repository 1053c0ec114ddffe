import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The operator token of the operations console (`relayctl console`) in the
/// key directory: `console.token`, 32 random bytes as 64 hex digits and a
/// newline, mode 0600. Made by `relayctl keys init`; whoever presents it
/// (`Authorization: Bearer`, or the cookie a `?token=` login sets) may read
/// the console and start drills.
package enum ConsoleTokenFile {
    /// The file name in the key directory.
    package static let fileName = "console.token"

    /// Random bytes in a token.
    static let byteCount = 32

    /// `<directory>/console.token`.
    package static func path(inDirectory directory: String) -> String {
        directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
    }

    /// A failure to read or write the token file; the message says what to fix.
    package struct Failure: Error, CustomStringConvertible {
        /// What went wrong and what to do.
        package var description: String
    }

    /// Reads the token: the file's text without surrounding whitespace,
    /// refused when it is not 64 hex digits.
    package static func load(fromDirectory directory: String) throws(Failure) -> String {
        let path = path(inDirectory: directory)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure(description: "cannot read the operator token \(path) (\(error.localizedDescription)): relayctl keys init --dir \(directory) creates it")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard isWellFormed(token) else {
            throw Failure(description: "\(path) does not hold a token of \(byteCount * 2) hex digits: remove it and run relayctl keys init --dir \(directory)")
        }
        return token
    }

    /// Whether `token` is `byteCount * 2` lowercase or uppercase hex digits.
    package static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == byteCount * 2 && token.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
    }

    /// A new random token.
    static func generate() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
    }

    /// Creates a token in `directory` (0700 if created); never replaces one.
    /// Returns false when one exists already.
    package static func create(inDirectory directory: String) throws(Failure) -> Bool {
        if access(directory, F_OK) != 0 && mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw Failure(description: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let path = path(inDirectory: directory)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return false }
            throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array((generate() + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                unlink(path)
                throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fsync(fd)
        return true
    }
}
