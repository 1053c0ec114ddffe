/// Why the deployment key could not be read or written.
///
/// Two errors are equal when their kinds and paths are.
public struct DeploymentKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// There is no key file at ``DeploymentKeyError/path``.
        case missing
        /// The file exists but could not be read.
        case unreadable
        /// The file does not hold an Ed25519 key in the expected PEM form.
        case malformed
        /// Writing: a private key is already there; it is never overwritten.
        case alreadyExists
        /// Writing failed (permissions, disk full, ...).
        case writeFailed
    }

    /// What went wrong.
    public let kind: Kind
    /// The file concerned.
    public let path: String
    private let detail: String

    init(_ kind: Kind, path: String, _ detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    /// A sentence for people, naming the file.
    public var description: String { detail }

    /// Compares what went wrong, not the diagnostics.
    public static func == (lhs: DeploymentKeyError, rhs: DeploymentKeyError) -> Bool {
        lhs.kind == rhs.kind && lhs.path == rhs.path
    }

    /// Hashes what ``==`` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(path)
    }
}
