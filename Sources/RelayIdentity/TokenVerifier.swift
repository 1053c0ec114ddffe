import Foundation
import JWTKit

/// Verifies device tokens with the deployment's public key.
///
/// A token is accepted only if its header names `alg: EdDSA` (so `none`,
/// `HS256` and every other algorithm are refused before any signature
/// check), its Ed25519 signature verifies, its claims decode with valid ids,
/// and `exp` has not passed (with a small allowed clock skew).
public struct TokenVerifier: Sendable {
    /// Longer tokens are refused unread. Real ones are about 300 bytes.
    public static let maximumTokenLength = 4096

    private let publicKey: DeploymentPublicKey
    private let allowedClockSkew: Duration
    private let now: @Sendable () -> Date

    /// A verifier trusting `publicKey`; `now` is the clock for `exp`.
    public init(
        publicKey: DeploymentPublicKey,
        allowedClockSkew: Duration = DeviceTokenClaims.defaultAllowedClockSkew,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.publicKey = publicKey
        self.allowedClockSkew = allowedClockSkew
        self.now = now
    }

    /// The claims of `token`, if it is a valid, unexpired token signed by the
    /// deployment key.
    ///
    /// - Throws: ``TokenError`` of kind ``TokenError/Kind/malformed``,
    ///   ``TokenError/Kind/wrongAlgorithm``, ``TokenError/Kind/badSignature``
    ///   ``TokenError/Kind/expired`` or ``TokenError/Kind/notYetValid``.
    public func verify(_ token: String) async throws(TokenError) -> DeviceTokenClaims {
        guard token.utf8.count <= Self.maximumTokenLength else {
            throw TokenError(.malformed, "token is longer than \(Self.maximumTokenLength) bytes")
        }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw TokenError(.malformed, "token is not three dot-separated parts (header.payload.signature)")
        }
        let header = try Self.decodeHeader(Substring(parts[0]))
        guard header.alg == "EdDSA" else {
            throw TokenError(.wrongAlgorithm, "token algorithm is \(String(reflecting: header.alg)); only EdDSA is accepted")
        }
        if let critical = header.crit, !critical.isEmpty {
            // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
            throw TokenError(.malformed, "token header has critical extensions \(critical), none are supported")
        }
        guard !parts[2].isEmpty else {
            throw TokenError(.badSignature, "token has no signature")
        }

        // One key collection per call: JWTKeyCollection is an actor, and a
        // shared one would put every CONNECT's signature check on one executor.
        let keys = JWTKeyCollection()
        await keys.add(eddsa: publicKey.key)
        let claims: DeviceTokenClaims
        do {
            claims = try await keys.verify(token, as: SignedDeviceClaims.self).claims
        } catch let error as TokenError {
            throw error
        } catch let error as JWTError {
            switch error.errorType {
            case .signatureVerificationFailed:
                throw TokenError(.badSignature, "token signature does not verify with the deployment public key")
            default:
                throw TokenError(.malformed, "token could not be read: \(error.reason ?? error.errorType.description)")
            }
        } catch {
            throw TokenError(.malformed, "token could not be read: \(error)")
        }
        try claims.validateTimes(now: now(), allowedClockSkew: allowedClockSkew)
        return claims
    }

    private struct Header: Decodable {
        var alg: String?
        var crit: [String]?
    }

    private static func decodeHeader(_ encoded: Substring) throws(TokenError) -> Header {
        guard let data = base64URLDecoded(encoded) else {
            throw TokenError(.malformed, "token header is not base64url")
        }
        do {
            return try JSONDecoder().decode(Header.self, from: data)
        } catch {
            throw TokenError(.malformed, "token header is not a JSON object with a string alg")
        }
    }

    /// Decodes unpadded base64url (RFC 7515 §2); nil if `text` is not that.
    static func base64URLDecoded(_ text: Substring) -> Data? {
        var base64 = ""
        base64.reserveCapacity(text.utf8.count + 3)
        for character in text.unicodeScalars {
            switch character {
            case "-": base64.append("+")
            case "_": base64.append("/")
            case "A"..."Z", "a"..."z", "0"..."9": base64.unicodeScalars.append(character)
            default: return nil
            }
        }
        switch base64.utf8.count % 4 {
        case 0: break
        case 2: base64 += "=="
        case 3: base64 += "="
        default: return nil
        }
        return Data(base64Encoded: base64)
    }
}
