import Foundation
import JWTKit

/// Issues device tokens: EdDSA-signed JWTs carrying ``DeviceTokenClaims``.
/// Holds the deployment's private key; relay nodes never need one.
public struct TokenIssuer: Sendable {
    private let key: DeploymentKey
    private let now: @Sendable () -> Date

    /// An issuer signing with `key`; `now` is the clock for `iat` and `exp`.
    public init(key: DeploymentKey, now: @escaping @Sendable () -> Date = { Date() }) {
        self.key = key
        self.now = now
    }

    /// A token for `device` of `user`, whose home region is `home`, valid
    /// for `ttl` from now.
    ///
    /// - Throws: ``TokenError`` of kind ``TokenError/Kind/invalidIdentifier``
    ///   if an id does not follow ``IdentifierSyntax``, or
    ///   ``TokenError/Kind/invalidLifetime`` if `ttl` is not positive.
    public func issue(user: String, device: String, home: String, ttl: Duration, tokenID: String? = nil) async throws -> String {
        guard ttl > .zero else {
            throw TokenError(.invalidLifetime, "the token lifetime must be positive, not \(ttl)")
        }
        let issuedAt = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        let expiresAt = issuedAt.addingTimeInterval(Double(ttl.components.seconds))
        let claims = DeviceTokenClaims(
            user: user, device: device, home: home, issuedAt: issuedAt, expiresAt: expiresAt, tokenID: tokenID)
        return try await issue(claims)
    }

    /// A token carrying exactly `claims` (e.g. to reissue, or to test expiry).
    ///
    /// - Throws: ``TokenError/Kind/invalidIdentifier`` if an id does not
    ///   follow ``IdentifierSyntax``.
    public func issue(_ claims: DeviceTokenClaims) async throws -> String {
        try claims.validateIdentifiers()
        let keys = JWTKeyCollection()
        await keys.add(eddsa: key.key)
        return try await keys.sign(SignedDeviceClaims(claims))
    }
}
