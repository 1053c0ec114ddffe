import Foundation
import JWTKit

/// What a device token says: who the device is, where its home is, and how
/// long the token is good for. In the JWT the fields are the claims `sub`,
/// `dev`, `home`, `iat`, `exp` and, if set, `nbf` and `jti`; times are whole
/// seconds since 1970 (RFC 7519 NumericDate).
public struct DeviceTokenClaims: Sendable, Hashable, Codable {
    /// The clock skew tolerated between the issuer and a verifier when
    /// checking `iat`, `nbf` and `exp`.
    public static let defaultAllowedClockSkew: Duration = .seconds(60)

    /// The user id (`sub`), the device's MQTT user name.
    public var user: String
    /// The device id (`dev`), the device's MQTT client identifier.
    public var device: String
    /// The user's home region (`home`).
    public var home: String
    /// When the token was issued (`iat`).
    public var issuedAt: Date
    /// When the token stops being accepted (`exp`).
    public var expiresAt: Date
    /// When the token starts being accepted (`nbf`), if not at once.
    public var notBefore: Date?
    /// An optional id for this token (`jti`), e.g. to revoke it.
    public var tokenID: String?

    /// Claims for `device` of `user`, whose home is `home`.
    public init(user: String, device: String, home: String, issuedAt: Date, expiresAt: Date, notBefore: Date? = nil, tokenID: String? = nil) {
        self.user = user
        self.device = device
        self.home = home
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.tokenID = tokenID
    }

    /// Throws ``TokenError/Kind/expired`` unless `now` is before
    /// ``expiresAt`` plus `allowedClockSkew`.
    public func validateExpiry(now: Date = Date(), allowedClockSkew: Duration = defaultAllowedClockSkew) throws(TokenError) {
        let skew = Self.seconds(allowedClockSkew)
        guard now < expiresAt.addingTimeInterval(skew) else {
            throw TokenError(.expired, "token expired at \(Self.format(expiresAt)) (now \(Self.format(now)))")
        }
    }

    /// Checks every time in the token against `now`, each with
    /// `allowedClockSkew` of slack: `iat` no later than `exp`
    /// (``TokenError/Kind/malformed``), `iat` and `nbf` not in the future
    /// (``TokenError/Kind/notYetValid``), `exp` not past
    /// (``TokenError/Kind/expired``).
    public func validateTimes(now: Date = Date(), allowedClockSkew: Duration = defaultAllowedClockSkew) throws(TokenError) {
        guard issuedAt <= expiresAt else {
            throw TokenError(.malformed, "token issued at \(Self.format(issuedAt)), after it expires at \(Self.format(expiresAt))")
        }
        let skew = Self.seconds(allowedClockSkew)
        guard issuedAt <= now.addingTimeInterval(skew) else {
            throw TokenError(.notYetValid, "token issued at \(Self.format(issuedAt)), in the future (now \(Self.format(now)))")
        }
        if let notBefore, notBefore > now.addingTimeInterval(skew) {
            throw TokenError(.notYetValid, "token not valid before \(Self.format(notBefore)) (now \(Self.format(now)))")
        }
        try validateExpiry(now: now, allowedClockSkew: allowedClockSkew)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Throws ``TokenError/Kind/invalidIdentifier`` if the user, device,
    /// home or token id does not follow ``IdentifierSyntax``.
    public func validateIdentifiers() throws(TokenError) {
        let fields: [(String, String?)] = [("user", user), ("device", device), ("home region", home), ("token id", tokenID)]
        for (name, value) in fields {
            if let value, !IdentifierSyntax.isValid(value) {
                throw TokenError(
                    .invalidIdentifier,
                    "\(name) \(String(reflecting: value)) is not 1 to \(IdentifierSyntax.maximumLength) characters of A-Z a-z 0-9 _ -")
            }
        }
    }

    private static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey {
        case user = "sub"
        case device = "dev"
        case home
        case issuedAt = "iat"
        case expiresAt = "exp"
        case notBefore = "nbf"
        case tokenID = "jti"
    }

    /// Decodes the claims; times may be integer or fractional seconds.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.user = try container.decode(String.self, forKey: .user)
        self.device = try container.decode(String.self, forKey: .device)
        self.home = try container.decode(String.self, forKey: .home)
        self.issuedAt = try Self.decodeTime(container, .issuedAt)
        self.expiresAt = try Self.decodeTime(container, .expiresAt)
        self.notBefore = container.contains(.notBefore) ? try Self.decodeTime(container, .notBefore) : nil
        self.tokenID = try container.decodeIfPresent(String.self, forKey: .tokenID)
    }

    /// Encodes the claims with times as whole seconds since 1970.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(user, forKey: .user)
        try container.encode(device, forKey: .device)
        try container.encode(home, forKey: .home)
        try container.encode(Int64(issuedAt.timeIntervalSince1970.rounded(.down)), forKey: .issuedAt)
        try container.encode(Int64(expiresAt.timeIntervalSince1970.rounded(.down)), forKey: .expiresAt)
        if let notBefore {
            try container.encode(Int64(notBefore.timeIntervalSince1970.rounded(.down)), forKey: .notBefore)
        }
        try container.encodeIfPresent(tokenID, forKey: .tokenID)
    }

    private static func decodeTime(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
        let seconds = try container.decode(Double.self, forKey: key)
        // Beyond ±2^53 s a NumericDate is nonsense (and would not round-trip).
        guard seconds.isFinite, abs(seconds) < 9_007_199_254_740_992 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "time out of range")
        }
        return Date(timeIntervalSince1970: seconds)
    }
}

/// The claims as jwt-kit signs and verifies them. jwt-kit calls
/// ``verify(using:)`` once the signature checked out; expiry is left to
/// ``TokenVerifier``, which owns the clock.
struct SignedDeviceClaims: JWTPayload {
    var claims: DeviceTokenClaims

    init(_ claims: DeviceTokenClaims) {
        self.claims = claims
    }

    init(from decoder: any Decoder) throws {
        self.claims = try DeviceTokenClaims(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        do {
            try claims.validateIdentifiers()
        } catch {
            throw TokenError(.malformed, "signed token has a bad identifier: \(error)")
        }
    }
}
