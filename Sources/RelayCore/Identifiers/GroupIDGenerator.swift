/// Makes random group conversation ids: `g` followed by `suffixLength` bytes
/// drawn uniformly from `[A-Za-z0-9_-]`.
///
/// The alphabet has exactly 64 bytes, so each byte carries 6 random bits
/// with no modulo bias. The default 15 bytes give 90 bits: a collision is
/// not expected before about 2^45 groups, but the store still creates a group
/// with a create-if-absent and asks for another id if one ever collides.
public struct GroupIDGenerator: Sendable, Hashable {
    /// The default number of random bytes after `g`.
    public static let defaultSuffixLength = 15

    /// How many random bytes follow `g`, 1...63.
    public let suffixLength: Int

    /// A generator of ids with `suffixLength` random bytes after `g` (1...63).
    public init(suffixLength: Int = GroupIDGenerator.defaultSuffixLength) {
        precondition(
            (1...(ConversationID.maximumGroupLength - 1)).contains(suffixLength),
            "group id suffix must be 1...63 bytes")
        self.suffixLength = suffixLength
    }

    /// A new group id drawn from `generator` (pass a seeded one in tests).
    public func next(using generator: inout some RandomNumberGenerator) -> ConversationID {
        var bytes: [UInt8] = [ConversationID.groupPrefix]
        bytes.reserveCapacity(suffixLength + 1)
        var bits: UInt64 = 0
        var bitsLeft = 0
        for _ in 0..<suffixLength {
            if bitsLeft < 6 {
                bits = generator.next()
                bitsLeft = 64
            }
            bytes.append(IdentifierSyntax.alphabet[Int(bits & 63)])
            bits >>= 6
            bitsLeft -= 6
        }
        return ConversationID(trusted: String(decoding: bytes, as: UTF8.self), kind: .group)
    }

    /// A new group id from the system's secure random source.
    public func next() -> ConversationID {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }
}
