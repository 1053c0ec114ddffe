/// A user: 1–64 bytes of `[A-Za-z0-9_-]` (docs/protocol.md, "Identifiers").
///
/// Ordered bytewise, the order that names a 1:1 conversation.
public struct UserID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The most bytes a user id may have.
    public static let maximumLength = 64

    /// The validated id.
    public let rawValue: String

    /// Validates `string` as a user id, saying what is wrong if it is not one.
    public init(validating string: String) throws(IdentifierError) {
        try IdentifierSyntax.validate(string.utf8, kind: .user, maximumLength: Self.maximumLength)
        self.rawValue = string
    }

    /// The user id `rawValue`, or nil when it is not valid.
    public init?(rawValue: String) {
        guard let id = try? UserID(validating: rawValue) else { return nil }
        self = id
    }

    /// For strings already known to be valid (parts of a validated conversation id).
    init(trusted rawValue: String) { self.rawValue = rawValue }

    /// Bytewise order of the UTF-8 forms.
    public static func < (lhs: UserID, rhs: UserID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    /// The id itself.
    public var description: String { rawValue }
}
