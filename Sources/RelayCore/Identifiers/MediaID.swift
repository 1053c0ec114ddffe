/// A media blob: 128 random bits as 32 lowercase hex digits, chosen by the
/// relay when it grants an upload (docs/media.md). Unguessable, so knowing it
/// is what a recipient proves by holding the end-to-end encrypted pointer.
public struct MediaID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// Hex digits in an id.
    public static let length = 32

    /// The validated id.
    public let rawValue: String

    /// The id `rawValue`, or nil unless it is exactly 32 of `[0-9a-f]`.
    public init?(rawValue: String) {
        let utf8 = rawValue.utf8
        guard utf8.count == Self.length,
              utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }

    /// A fresh id from 16 bytes of `generator`.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> MediaID {
        var hex = ""
        for _ in 0..<2 {
            let word = generator.next() as UInt64
            let digits = String(word, radix: 16)
            hex += String(repeating: "0", count: 16 - digits.count) + digits
        }
        // 32 hex digits by construction.
        return MediaID(uncheckedHex: hex)
    }

    /// A fresh id from the system's generator.
    public static func random() -> MediaID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    private init(uncheckedHex: String) {
        self.rawValue = uncheckedHex
    }

    /// The id itself.
    public var description: String { rawValue }
}
