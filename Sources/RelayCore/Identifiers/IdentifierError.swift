/// Why a string is not a valid user, device or conversation identifier.
///
/// Each case names the first thing found wrong, so a refusal can tell a
/// client exactly what to fix. All identifiers are checked byte by byte over
/// their UTF-8 form (docs/protocol.md, "Identifiers").
public enum IdentifierError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The string is empty.
    case empty(IdentifierKind)
    /// The string has `length` bytes; at most `maximum` are allowed.
    case tooLong(IdentifierKind, length: Int, maximum: Int)
    /// The byte at `offset` is outside `[A-Za-z0-9_-]`.
    case invalidByte(IdentifierKind, byte: UInt8, offset: Int)
    /// A conversation id is neither `<user>~<user>` nor `g<suffix>`.
    case notAConversation
    /// A 1:1 conversation id has more than one `~`.
    case tooManySeparators
    /// A 1:1 conversation id names its users out of bytewise order.
    case usersNotSorted
    /// A part of a conversation id is not a valid identifier.
    indirect case invalidPart(IdentifierError)

    /// A one-line explanation, safe to send to the client.
    public var description: String {
        switch self {
        case .empty(let kind):
            return "\(kind) id is empty"
        case .tooLong(let kind, let length, let maximum):
            return "\(kind) id is \(length) bytes long; at most \(maximum) allowed"
        case .invalidByte(let kind, let byte, let offset):
            return "\(kind) id has byte 0x\(String(byte, radix: 16)) at offset \(offset); only A-Z a-z 0-9 _ - allowed"
        case .notAConversation:
            return "conversation id is neither <user>~<user> nor g<id>"
        case .tooManySeparators:
            return "conversation id has more than one '~'"
        case .usersNotSorted:
            return "conversation id must name its two users in bytewise order"
        case .invalidPart(let inner):
            return "conversation id: \(inner)"
        }
    }
}

/// Which kind of identifier an ``IdentifierError`` is about.
public enum IdentifierKind: String, Hashable, Sendable, CustomStringConvertible {
    /// A ``UserID``.
    case user
    /// A ``DeviceID``.
    case device
    /// A group ``ConversationID`` (the part after `g`).
    case group

    /// The kind's name.
    public var description: String { rawValue }
}

/// The identifier alphabet `[A-Za-z0-9_-]` and the length check shared by
/// every identifier.
enum IdentifierSyntax {
    /// The 64 bytes of the alphabet; 64 exactly, so a random byte masked with
    /// 63 picks one without bias.
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// Checks `bytes` is 1...`maximumLength` bytes of the alphabet.
    /// `offsetBase` is added to reported offsets (for parts of a larger id).
    static func validate(
        _ bytes: some Collection<UInt8>,
        kind: IdentifierKind,
        maximumLength: Int,
        offsetBase: Int = 0
    ) throws(IdentifierError) {
        if bytes.isEmpty { throw .empty(kind) }
        let count = bytes.count
        if count > maximumLength { throw .tooLong(kind, length: count, maximum: maximumLength) }
        for (offset, byte) in bytes.enumerated() where !isAllowed(byte) {
            throw .invalidByte(kind, byte: byte, offset: offsetBase + offset)
        }
    }
}
