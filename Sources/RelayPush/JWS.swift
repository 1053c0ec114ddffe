import Crypto
import Foundation
import _CryptoExtras

/// Compact JWS (RFC 7515) signing for the tokens push providers ask for:
/// ES256 (VAPID, APNs provider tokens) and RS256 (FCM's OAuth2 grant).
/// Headers and claims are JSON objects given as ordered pairs, so a token
/// is the same bytes for the same inputs (tests compare them).
public enum JWS {
    /// One JSON member's value: a string, an integer or a nested object.
    public enum Value: Sendable {
        case string(String)
        case integer(Int64)
        case object([(String, Value)])
    }

    /// `{"k":v,...}` in the order given, strings JSON-escaped.
    public static func object(_ members: [(String, Value)]) -> String {
        let body = members.map { key, value -> String in
            switch value {
            case .string(let s): return quoted(key) + ":" + quoted(s)
            case .integer(let i): return quoted(key) + ":" + String(i)
            case .object(let members): return quoted(key) + ":" + object(members)
            }
        }.joined(separator: ",")
        return "{" + body + "}"
    }

    /// `base64url(header).base64url(claims)`, the bytes that are signed.
    public static func signingInput(header: [(String, Value)], claims: [(String, Value)]) -> String {
        Base64URL.encode(Array(object(header).utf8)) + "." + Base64URL.encode(Array(object(claims).utf8))
    }

    /// An ES256 token: the signature is the raw r ‖ s (RFC 7518 §3.4), not DER.
    public static func es256(header: [(String, Value)], claims: [(String, Value)], key: P256.Signing.PrivateKey) throws(PushError) -> String {
        let input = signingInput(header: header, claims: claims)
        do {
            let signature = try key.signature(for: Array(input.utf8))
            return input + "." + Base64URL.encode(signature.rawRepresentation)
        } catch {
            throw PushError(.crypto, "ES256 signing failed: \(error)")
        }
    }

    /// An RS256 token: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    public static func rs256(header: [(String, Value)], claims: [(String, Value)], key: _RSA.Signing.PrivateKey) throws(PushError) -> String {
        let input = signingInput(header: header, claims: claims)
        do {
            let signature = try key.signature(for: Array(input.utf8), padding: .insecurePKCS1v1_5)
            return input + "." + Base64URL.encode(signature.rawRepresentation)
        } catch {
            throw PushError(.crypto, "RS256 signing failed: \(error)")
        }
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
