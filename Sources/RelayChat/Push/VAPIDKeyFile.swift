import Crypto
import Foundation
import RelayPush

#if canImport(Glibc)
import Glibc
#endif

/// The deployment's VAPID key (RFC 8292) in the key directory:
/// `vapid.key`, a PEM PKCS #8 P-256 private key, mode 0600. Made by
/// `relayctl keys init`; read by `relay serve`, which signs Web Push
/// requests with it and publishes its public key at `/push/vapid`.
package enum VAPIDKeyFile {
    /// The file name in the key directory.
    static let fileName = "vapid.key"

    /// `<directory>/vapid.key`.
    package static func path(inDirectory directory: String) -> String {
        directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
    }

    /// Whether `directory` holds a VAPID key.
    package static func exists(inDirectory directory: String) -> Bool {
        access(path(inDirectory: directory), F_OK) == 0
    }

    /// Reads the key; nil when there is none (Web Push registrations are then refused).
    package static func load(fromDirectory directory: String) throws(PushError) -> VAPIDKey? {
        let path = path(inDirectory: directory)
        guard exists(inDirectory: directory) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PushError(.badKey, "cannot read \(path): \(error.localizedDescription)")
        }
        return try VAPIDKey(pem: text)
    }

    /// Creates a new key in `directory` (0700 if created); never replaces one.
    /// Returns false when one exists already.
    package static func create(inDirectory directory: String) throws(PushError) -> Bool {
        if access(directory, F_OK) != 0 && mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw PushError(.badKey, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let path = path(inDirectory: directory)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return false }
            throw PushError(.badKey, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array((P256.Signing.PrivateKey().pemRepresentation + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                unlink(path)
                throw PushError(.badKey, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fsync(fd)
        return true
    }
}
