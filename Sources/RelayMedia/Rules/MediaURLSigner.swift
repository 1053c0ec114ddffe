import Crypto
import Foundation
import RelayCore

/// Signs and verifies media URLs with HMAC-SHA256 (docs/media.md).
///
/// A URL is `<base>/media/v1/<upload|blob|mirror>/<id>?r=REGION&u=USER&n=LENGTH&e=EXPIRES&s=SIG`
/// where `SIG` is the unpadded base64url HMAC of ``MediaGrantClaims``'s
/// signed text. The key is derived from the deployment's peer secret, so
/// every region can verify a URL any region signed (decision 0022).
public struct MediaURLSigner: Sendable {
    private let key: SymmetricKey

    /// A signer over `secret` (the deployment's peer secret), derived with
    /// HKDF-SHA256 so that the media key is not the peers' key itself.
    public init(secret: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret),
            info: Array("relay media url v1".utf8),
            outputByteCount: 32)
    }

    /// The URL path of `claims`'s blob: `/media/v1/upload/<id>` or `/media/v1/blob/<id>`.
    public static func path(for use: MediaGrantClaims.Use, id: MediaID) -> String {
        switch use {
        case .upload: "/media/v1/upload/\(id.rawValue)"
        case .download: "/media/v1/blob/\(id.rawValue)"
        case .mirror: "/media/v1/mirror/\(id.rawValue)"
        }
    }

    /// The path and signed query of `claims` (append to the serving region's base URL).
    public func signedPath(_ claims: MediaGrantClaims) -> String {
        let signature = HMAC<SHA256>.authenticationCode(for: Array(claims.signedText.utf8), using: key)
        let query = [
            "r=\(Self.escape(claims.region))", "u=\(Self.escape(claims.user))", "n=\(claims.length)", "e=\(claims.expiresAt)",
            "s=\(Base64URL.encode(Array(signature)))",
        ]
        return Self.path(for: claims.use, id: claims.id) + "?" + query.joined(separator: "&")
    }

    /// The claims of a request for `use` of the blob `id` with `query`
    /// (its decoded parameters), at `now` (unix seconds): 404 for an id
    /// that is not one, 403 for a missing, malformed or wrong signature
    /// (tampered) and for an expired URL.
    public func verify(use: MediaGrantClaims.Use, id rawID: String, query: [String: String], now: Int64) throws(MediaRefusal) -> MediaGrantClaims {
        guard let id = MediaID(rawValue: rawID) else { throw .notFound("no blob \(rawID.prefix(64)): an id is 32 lowercase hex digits") }
        guard let region = query["r"], Self.isField(region), !region.isEmpty,
              let user = query["u"], Self.isField(user),
              let lengthText = query["n"], let length = UInt64(lengthText),
              let expiresText = query["e"], let expiresAt = Int64(expiresText),
              let signatureText = query["s"], let signature = Base64URL.decode(signatureText)
        else {
            throw .forbidden("the URL is not a signed media URL (r, u, n, e and s are needed): ask for a new one with q/media.\(use == .upload ? "upload" : "download")")
        }
        let claims = MediaGrantClaims(use: use, id: id, region: region, user: user, length: length, expiresAt: expiresAt)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Array(claims.signedText.utf8), using: key) else {
            throw .forbidden("the URL's signature does not match (tampered, or for another use): ask for a new one")
        }
        guard now <= expiresAt else {
            throw .forbidden("the URL expired at \(expiresAt) (now \(now)): ask for a new one")
        }
        return claims
    }

    /// A field may be signed: at most 64 bytes, no control characters.
    static func isField(_ value: String) -> Bool {
        value.utf8.count <= 64 && value.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }

    private static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}

/// Unpadded base64url (RFC 4648 §5).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 128 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !base64.contains("=") else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
