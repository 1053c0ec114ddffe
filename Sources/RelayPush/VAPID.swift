import Crypto
import Foundation

/// Voluntary Application Server Identification (RFC 8292): the
/// deployment's P-256 key signs a short-lived ES256 JWT per push service
/// origin, sent as `Authorization: vapid t=<jwt>, k=<public key>`.
public struct VAPIDKey: Sendable {
    /// The signing key.
    public let privateKey: P256.Signing.PrivateKey

    /// Wraps a key.
    public init(_ privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
    }

    /// Reads a PEM private key (PKCS #8 or SEC 1, as `relayctl keys init` and OpenSSL write).
    public init(pem: String) throws(PushError) {
        do {
            privateKey = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw PushError(.badKey, "not a PEM P-256 private key: \(error)")
        }
    }

    /// The public key as subscriptions need it (`applicationServerKey`) and
    /// as `k=` carries it: base64url of the 65-byte uncompressed point.
    public var publicKeyBase64URL: String {
        Base64URL.encode(privateKey.publicKey.x963Representation)
    }

    /// The `Authorization` header value for a push to `endpoint`, valid
    /// until `expires` (at most 24 hours ahead, RFC 8292 §2).
    public func authorization(endpoint: String, subject: String, expires: Date) throws(PushError) -> String {
        guard let audience = Self.audience(of: endpoint) else { throw PushError(.badTarget, "the endpoint has no https origin") }
        let token = try jwt(audience: audience, subject: subject, expires: expires)
        return "vapid t=\(token), k=\(publicKeyBase64URL)"
    }

    /// The signed JWT: `{"typ":"JWT","alg":"ES256"}` and `{"aud","exp","sub"}`.
    public func jwt(audience: String, subject: String, expires: Date) throws(PushError) -> String {
        try JWS.es256(
            header: [("typ", .string("JWT")), ("alg", .string("ES256"))],
            claims: [("aud", .string(audience)), ("exp", .integer(Int64(expires.timeIntervalSince1970))), ("sub", .string(subject))],
            key: privateKey)
    }

    /// The origin of an https URL: `https://host[:port]`, the JWT's `aud`.
    public static func audience(of endpoint: String) -> String? {
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = url.host, !host.isEmpty
        else { return nil }
        let port = url.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)"
    }

    /// Checks a `vapid t=…, k=…` header against its own key (what a push
    /// service does); returns the claims' JSON. For tests and tools.
    public static func verify(authorization: String) throws(PushError) -> [UInt8] {
        guard authorization.hasPrefix("vapid ") else { throw PushError(.crypto, "not a vapid authorization") }
        var token = "", key = ""
        for part in authorization.dropFirst(6).split(separator: ",") {
            let field = part.trimmingCharacters(in: .whitespaces)
            if field.hasPrefix("t=") { token = String(field.dropFirst(2)) }
            if field.hasPrefix("k=") { key = String(field.dropFirst(2)) }
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let keyBytes = Base64URL.decode(key), let signatureBytes = Base64URL.decode(String(parts[2])),
              let claims = Base64URL.decode(String(parts[1]))
        else { throw PushError(.crypto, "malformed vapid authorization") }
        do {
            let publicKey = try P256.Signing.PublicKey(x963Representation: keyBytes)
            let signature = try P256.Signing.ECDSASignature(rawRepresentation: signatureBytes)
            guard publicKey.isValidSignature(signature, for: Array("\(parts[0]).\(parts[1])".utf8)) else {
                throw PushError(.crypto, "the signature does not verify")
            }
        } catch let error as PushError {
            throw error
        } catch {
            throw PushError(.crypto, "bad key or signature: \(error)")
        }
        return claims
    }
}
