import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How regions authenticate to each other's peer listeners.
///
/// The deployment has one secret, `keys/peer.secret`: 32 random bytes as
/// 64 hex digits (mode 0600), created by `relayctl keys init`. Region R's
/// shippers connect with user name `region:R` and password
/// `hex(HMAC-SHA256(secret, "region:R"))`, so every region can check every
/// other region's password while no device token can ever pass for one.
public struct PeerCredentials: Sendable {
    /// The file name of the secret in the key directory.
    public static let fileName = "peer.secret"
    /// Bytes of secret.
    public static let secretLength = 32
    /// The prefix of a peer's MQTT user name.
    public static let usernamePrefix = "region:"

    private let secret: [UInt8]

    /// Credentials over `secret` (at least 16 bytes).
    public init(secret: [UInt8]) throws(PeerCredentialsError) {
        guard secret.count >= 16 else {
            throw PeerCredentialsError("the peer secret is \(secret.count) bytes; it needs at least 16")
        }
        self.secret = secret
    }

    /// 32 bytes for `purpose` derived from the secret,
    /// `HMAC-SHA256(secret, "derive:" + purpose)`: another domain than the
    /// regions' passwords (`"region:"`), so no region's password is one.
    /// The media URL key is derived so (docs/media.md).
    public func derivedKey(for purpose: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(("derive:" + purpose).utf8), using: SymmetricKey(data: secret)))
    }

    /// Fresh credentials over 32 random bytes.
    public static func generate() -> PeerCredentials {
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Array($0) }
        // 32 bytes always satisfy `init`.
        return try! PeerCredentials(secret: bytes)
    }

    /// `<directory>/peer.secret`.
    public static func path(inDirectory directory: String) -> String {
        directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
    }

    /// Whether `directory` holds a secret file.
    public static func exists(inDirectory directory: String) -> Bool {
        access(path(inDirectory: directory), F_OK) == 0
    }

    /// Reads `<directory>/peer.secret`.
    public static func load(fromDirectory directory: String) throws(PeerCredentialsError) -> PeerCredentials {
        let path = path(inDirectory: directory)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PeerCredentialsError("cannot read \(path): \(error.localizedDescription) (relayctl keys init creates it)")
        }
        guard let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw PeerCredentialsError("\(path) is not hex")
        }
        return try PeerCredentials(secret: bytes)
    }

    /// Writes the secret to `<directory>/peer.secret` with mode 0600,
    /// creating `directory` (0700) if needed. Never replaces an existing file.
    public func write(toDirectory directory: String) throws(PeerCredentialsError) {
        if access(directory, F_OK) != 0 && mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw PeerCredentialsError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let path = Self.path(inDirectory: directory)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw PeerCredentialsError("\(path) already exists; it is never overwritten", exists: true) }
            throw PeerCredentialsError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // The umask may have cleared bits; the mode is part of the file's contract.
        fchmod(fd, 0o600)
        let bytes = Array((Hex.encode(secret) + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                unlink(path)
                throw PeerCredentialsError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fsync(fd)
    }

    /// The MQTT user name of `region`'s shippers: `region:<region>`.
    public static func username(for region: String) -> String {
        usernamePrefix + region
    }

    /// The region named by a peer user name, or nil when it is not one.
    public static func region(fromUsername username: String) -> String? {
        guard username.hasPrefix(usernamePrefix) else { return nil }
        let region = String(username.dropFirst(usernamePrefix.count))
        return region.isEmpty ? nil : region
    }

    /// The password of `region`: hex HMAC-SHA256(secret, "region:<region>").
    public func password(for region: String) -> String {
        Hex.encode(Array(code(for: region)))
    }

    /// Whether `password` is `region`'s, compared in constant time.
    public func verify(password: some Collection<UInt8>, for region: String) -> Bool {
        guard let bytes = Hex.decode(String(decoding: password, as: UTF8.self)) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            bytes, authenticating: Array(Self.username(for: region).utf8), using: SymmetricKey(data: secret))
    }

    private func code(for region: String) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Array(Self.username(for: region).utf8), using: SymmetricKey(data: secret))
    }
}

/// The secret file is missing, unreadable or malformed, or cannot be written.
public struct PeerCredentialsError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, with the path.
    public var description: String
    /// True when writing found a file already there.
    public var exists: Bool

    init(_ description: String, exists: Bool = false) {
        self.description = description
        self.exists = exists
    }
}

/// `write(2)`, out of reach of the methods named `write` above.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Lowercase hex, for the secret file and passwords.
enum Hex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text` (either case), or nil when it is not an even number of hex digits.
    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let high = value(utf8[i]), let low = value(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
