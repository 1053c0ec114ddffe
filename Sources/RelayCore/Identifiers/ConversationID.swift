/// A conversation: a 1:1 conversation `<userA>~<userB>` with the two user ids
/// in bytewise order, or a group `g` + 1–63 bytes of `[A-Za-z0-9_-]`
/// (docs/protocol.md, "Identifiers").
///
/// The two forms cannot be confused: user ids never contain `~`, and a string
/// without `~` is a group id only if it starts with `g`. A 1:1 conversation of
/// a user with themself (`alice~alice`, notes to self) is valid.
public struct ConversationID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The most bytes a group id may have, `g` included.
    public static let maximumGroupLength = 64
    /// The byte that starts every group id.
    public static let groupPrefix = UInt8(ascii: "g")
    /// The byte between the two user ids of a 1:1 conversation.
    public static let directSeparator = UInt8(ascii: "~")

    /// What a conversation id names.
    public enum Kind: Hashable, Sendable {
        /// A 1:1 conversation between `first` and `second`, `first <= second`.
        case direct(UserID, UserID)
        /// A group; its members are kept by the group's record.
        case group
    }

    /// The validated id.
    public let rawValue: String
    /// Whether this is a 1:1 conversation (with its users) or a group.
    public let kind: Kind

    /// Validates `string` as a conversation id, saying what is wrong if it is not one.
    public init(validating string: String) throws(IdentifierError) {
        let bytes = string.utf8
        guard !bytes.isEmpty else { throw .notAConversation }
        if let separator = bytes.firstIndex(of: Self.directSeparator) {
            let firstBytes = bytes[..<separator]
            let secondBytes = bytes[bytes.index(after: separator)...]
            if secondBytes.contains(Self.directSeparator) { throw .tooManySeparators }
            do {
                try IdentifierSyntax.validate(firstBytes, kind: .user, maximumLength: UserID.maximumLength)
                try IdentifierSyntax.validate(
                    secondBytes, kind: .user, maximumLength: UserID.maximumLength, offsetBase: firstBytes.count + 1)
            } catch {
                throw .invalidPart(error)
            }
            let first = UserID(trusted: String(string[..<separator]))
            let second = UserID(trusted: String(string[string.index(after: separator)...]))
            guard !(second < first) else { throw .usersNotSorted }
            self.rawValue = string
            self.kind = .direct(first, second)
        } else {
            guard bytes.first == Self.groupPrefix else { throw .notAConversation }
            do {
                try IdentifierSyntax.validate(
                    bytes.dropFirst(), kind: .group, maximumLength: Self.maximumGroupLength - 1, offsetBase: 1)
            } catch {
                throw .invalidPart(error)
            }
            self.rawValue = string
            self.kind = .group
        }
    }

    /// The conversation id `rawValue`, or nil when it is not valid.
    public init?(rawValue: String) {
        guard let id = try? ConversationID(validating: rawValue) else { return nil }
        self = id
    }

    /// The 1:1 conversation of `a` and `b`; the same whichever order they are given in.
    public static func direct(_ a: UserID, _ b: UserID) -> ConversationID {
        let (first, second) = b < a ? (b, a) : (a, b)
        return ConversationID(trusted: first.rawValue + "~" + second.rawValue, kind: .direct(first, second))
    }

    /// True for a group conversation.
    public var isGroup: Bool { kind == .group }

    /// The two users of a 1:1 conversation (`first <= second`), nil for a group.
    public var directUsers: (first: UserID, second: UserID)? {
        if case .direct(let first, let second) = kind { return (first, second) }
        return nil
    }

    /// The distinct users of a 1:1 conversation: two, or one in a
    /// conversation with oneself (`alice~alice`); nil for a group.
    public var directMembers: [UserID]? {
        guard case .direct(let first, let second) = kind else { return nil }
        return first == second ? [first] : [first, second]
    }

    /// The id itself.
    public var description: String { rawValue }

    init(trusted rawValue: String, kind: Kind) {
        self.rawValue = rawValue
        self.kind = kind
    }
}
