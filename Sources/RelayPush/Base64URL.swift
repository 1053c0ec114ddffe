import Foundation

/// Base64url without padding (RFC 4648 §5), the encoding of Web Push keys
/// (RFC 8291 §3.2), JWT parts (RFC 7515 §2) and VAPID's `k` (RFC 8292 §3.2).
public enum Base64URL {
    /// Encodes `bytes` without padding.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url with or without padding (plain base64's `+` and `/`
    /// are accepted too, as browsers' `PushSubscription.toJSON()` never emits
    /// them but hand-written clients do); nil on anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 4096 else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.hasSuffix("=") { s.removeLast() }
        switch s.utf8.count % 4 {
        case 1: return nil
        case 2: s += "=="
        case 3: s += "="
        default: break
        }
        return Data(base64Encoded: s).map { Array($0) }
    }
}
