/// The syntax of user, device and region identifiers (docs/protocol.md,
/// "Identifiers"): 1 to 64 characters of `[A-Za-z0-9_-]`.
public enum IdentifierSyntax {
    /// The longest identifier, in characters.
    public static let maximumLength = 64

    /// Whether `identifier` is 1 to ``maximumLength`` characters of `[A-Za-z0-9_-]`.
    public static func isValid(_ identifier: String) -> Bool {
        let utf8 = identifier.utf8
        guard !utf8.isEmpty, utf8.count <= maximumLength else { return false }
        return utf8.allSatisfy { byte in
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
    }
}
