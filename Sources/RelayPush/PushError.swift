/// Why a push could not be prepared or a target was refused.
public struct PushError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stable part, for callers to switch over.
    public enum Kind: String, Sendable {
        /// A registration's fields are malformed or refused.
        case badTarget = "bad_target"
        /// The body would be larger than a push carries.
        case tooLarge = "too_large"
        /// Encryption or signing failed.
        case crypto
        /// A key file is missing or malformed.
        case badKey = "bad_key"
    }

    /// The kind.
    public let kind: Kind
    /// Human-readable detail.
    public let detail: String

    /// An error of `kind` saying `detail`.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// "kind: detail".
    public var description: String { "\(kind.rawValue): \(detail)" }
}
