/// Why a device token could not be issued or was not accepted.
///
/// The ``kind`` is stable and meant for decisions (e.g. which CONNACK reason
/// code to send); ``description`` carries the diagnostics for people. Two
/// errors are equal when their kinds are.
public struct TokenError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// Not a compact JWS, undecodable header or payload, missing or
        /// ill-formed claims, or longer than ``TokenVerifier/maximumTokenLength``.
        case malformed
        /// The signature was not made by the deployment key for this content.
        case badSignature
        /// `exp` is in the past, beyond the allowed clock skew.
        case expired
        /// `iat` or `nbf` is in the future, beyond the allowed clock skew.
        case notYetValid
        /// The header's `alg` is not `EdDSA` (e.g. `none` or `HS256`).
        case wrongAlgorithm
        /// Issuing: a user, device, region or token id does not follow
        /// ``IdentifierSyntax``.
        case invalidIdentifier
        /// Issuing: the lifetime is not positive.
        case invalidLifetime
    }

    /// What went wrong.
    public let kind: Kind
    private let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// A sentence for people: what was wrong with the token.
    public var description: String { detail }

    /// Compares what went wrong, not the diagnostics.
    public static func == (lhs: TokenError, rhs: TokenError) -> Bool { lhs.kind == rhs.kind }

    /// Hashes what ``==`` compares.
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
