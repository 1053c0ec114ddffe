import Foundation
import RelayIdentity
import Testing

/// A fixed clock: 2025-01-01T00:00:00Z.
let epoch = Date(timeIntervalSince1970: 1_735_689_600)

func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func base64URL(_ text: String) -> String { base64URL(Array(text.utf8)) }

func decodeBase64URL(_ text: Substring) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64)
}

func expectTokenError(_ kind: TokenError.Kind, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("expected TokenError \(kind), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as TokenError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected TokenError \(kind), got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct TokenTests {
    let key: DeploymentKey
    let issuer: TokenIssuer
    let verifier: TokenVerifier

    init() throws {
        key = try DeploymentKey.generate()
        issuer = TokenIssuer(key: key, now: { epoch })
        verifier = TokenVerifier(publicKey: key.publicKey, now: { epoch.addingTimeInterval(10) })
    }

    @Test func issuedTokenVerifies() async throws {
        let token = try await issuer.issue(user: "alice", device: "alice-phone", home: "eu_1", ttl: .seconds(3600), tokenID: "t1")
        #expect(!token.contains(" ") && token.split(separator: ".").count == 3)
        let claims = try await verifier.verify(token)
        #expect(claims == DeviceTokenClaims(
            user: "alice", device: "alice-phone", home: "eu_1",
            issuedAt: epoch, expiresAt: epoch.addingTimeInterval(3600), tokenID: "t1"))
    }

    @Test func headerAndClaimNamesFollowTheContract() async throws {
        let token = try await issuer.issue(user: "alice", device: "alice-phone", home: "eu", ttl: .seconds(60))
        let parts = token.split(separator: ".")
        let header = try JSONSerialization.jsonObject(with: #require(decodeBase64URL(parts[0]))) as? [String: Any]
        #expect(header?["alg"] as? String == "EdDSA")
        let payload = try JSONSerialization.jsonObject(with: #require(decodeBase64URL(parts[1]))) as? [String: Any]
        #expect(Set(payload?.keys.map { $0 } ?? []) == ["sub", "dev", "home", "iat", "exp"])
        #expect(payload?["sub"] as? String == "alice")
        #expect(payload?["dev"] as? String == "alice-phone")
        #expect(payload?["exp"] as? Int == Int(epoch.timeIntervalSince1970) + 60)
    }

    @Test func expiredTokenIsRejected() async throws {
        let token = try await issuer.issue(user: "alice", device: "phone", home: "eu", ttl: .seconds(3600))
        let later = TokenVerifier(publicKey: key.publicKey, now: { epoch.addingTimeInterval(3600 + 61) })
        await expectTokenError(.expired) { _ = try await later.verify(token) }
    }

    @Test func expiryToleratesSmallClockSkew() async throws {
        let token = try await issuer.issue(user: "alice", device: "phone", home: "eu", ttl: .seconds(3600))
        let slightlyLate = TokenVerifier(publicKey: key.publicKey, now: { epoch.addingTimeInterval(3600 + 30) })
        _ = try await slightlyLate.verify(token)
        let strict = TokenVerifier(publicKey: key.publicKey, allowedClockSkew: .zero, now: { epoch.addingTimeInterval(3600) })
        await expectTokenError(.expired) { _ = try await strict.verify(token) }
    }

    @Test func aTokenIssuedInTheFutureOrAfterItsExpiryIsRejected() async throws {
        func claims(iat: Double, exp: Double, nbf: Double? = nil) -> DeviceTokenClaims {
            DeviceTokenClaims(user: "alice", device: "phone", home: "eu", issuedAt: epoch.addingTimeInterval(iat),
                              expiresAt: epoch.addingTimeInterval(exp), notBefore: nbf.map { epoch.addingTimeInterval($0) })
        }
        // The verifier's clock is epoch + 10 s, with 60 s of skew allowed.
        let future = try await issuer.issue(claims(iat: 3600, exp: 7200))
        await expectTokenError(.notYetValid) { _ = try await verifier.verify(future) }
        let backwards = try await issuer.issue(claims(iat: 0, exp: -10))
        await expectTokenError(.malformed) { _ = try await verifier.verify(backwards) }
        let notYet = try await issuer.issue(claims(iat: 0, exp: 7200, nbf: 3600))
        await expectTokenError(.notYetValid) { _ = try await verifier.verify(notYet) }
        // Within the skew, both pass; nbf in the past passes and round-trips.
        let skewed = try await issuer.issue(claims(iat: 50, exp: 7200, nbf: 50))
        #expect(try await verifier.verify(skewed).notBefore == epoch.addingTimeInterval(50))
    }

    @Test func tokenSignedByAnotherKeyIsRejected() async throws {
        let other = TokenIssuer(key: try DeploymentKey.generate(), now: { epoch })
        let token = try await other.issue(user: "alice", device: "phone", home: "eu", ttl: .seconds(3600))
        await expectTokenError(.badSignature) { _ = try await verifier.verify(token) }
    }

    @Test func tamperedPayloadIsRejected() async throws {
        let token = try await issuer.issue(user: "alice", device: "phone", home: "eu", ttl: .seconds(3600))
        let parts = token.split(separator: ".").map(String.init)
        let forged = #"{"sub":"mallory","dev":"phone","home":"eu","iat":1735689600,"exp":1735693200}"#
        let tampered = [parts[0], base64URL(forged), parts[2]].joined(separator: ".")
        await expectTokenError(.badSignature) { _ = try await verifier.verify(tampered) }

        // Flipping one signature character also fails.
        var signature = Array(parts[2])
        signature[5] = signature[5] == "A" ? "B" : "A"
        let badSignature = [parts[0], parts[1], String(signature)].joined(separator: ".")
        await expectTokenError(.badSignature) { _ = try await verifier.verify(badSignature) }
    }

    @Test func algNoneIsRejected() async throws {
        let payload = #"{"sub":"alice","dev":"phone","home":"eu","iat":1735689600,"exp":1735693200}"#
        for header in [#"{"alg":"none","typ":"JWT"}"#, #"{"alg":"None"}"#] {
            let token = base64URL(header) + "." + base64URL(payload) + "."
            await expectTokenError(.wrongAlgorithm) { _ = try await verifier.verify(token) }
        }
        // No alg at all, and alg EdDSA with the signature left off.
        await expectTokenError(.wrongAlgorithm) {
            _ = try await verifier.verify(base64URL(#"{"typ":"JWT"}"#) + "." + base64URL(payload) + ".")
        }
        await expectTokenError(.badSignature) {
            _ = try await verifier.verify(base64URL(#"{"alg":"EdDSA"}"#) + "." + base64URL(payload) + ".")
        }
    }

    @Test func hs256IsRejected() async throws {
        // An HS256 token whose "secret" is the public key's PEM: the classic
        // algorithm-confusion forgery.
        let payload = #"{"sub":"alice","dev":"phone","home":"eu","iat":1735689600,"exp":1735693200}"#
        let token = base64URL(#"{"alg":"HS256","typ":"JWT"}"#) + "." + base64URL(payload) + "." + base64URL(Array(repeating: 7, count: 32))
        await expectTokenError(.wrongAlgorithm) { _ = try await verifier.verify(token) }
    }

    @Test(arguments: [
        "", "a.b", "a.b.c.d", "not a token", "!!.??.##",
        "bm90IGpzb24.e30.AAAA",  // header "not json"
        "eyJhbGciOjF9.e30.AAAA",  // header {"alg":1}
        String(repeating: "a", count: 5000),
    ])
    func malformedTokensAreRejected(token: String) async {
        await expectTokenError(.malformed) { _ = try await verifier.verify(token) }
    }

    @Test func criticalHeaderExtensionsAreRejected() async {
        let token = base64URL(#"{"alg":"EdDSA","crit":["x"]}"#) + "." + base64URL("{}") + ".AAAA"
        await expectTokenError(.malformed) { _ = try await verifier.verify(token) }
    }

    @Test(arguments: [
        ("", "phone", "eu"), ("al ice", "phone", "eu"), ("alice", "phone/1", "eu"),
        ("alice", String(repeating: "d", count: 65), "eu"), ("alice", "phone", ""), ("alice", "phone", "eu.west"),
        ("élise", "phone", "eu"),
    ])
    func badIdentifiersAreRefusedAtIssue(user: String, device: String, home: String) async {
        await expectTokenError(.invalidIdentifier) {
            _ = try await issuer.issue(user: user, device: device, home: home, ttl: .seconds(60))
        }
    }

    @Test func longestIdentifiersAreAccepted() async throws {
        let id = String(repeating: "x", count: 64)
        let token = try await issuer.issue(user: id, device: "A-z_0-9", home: id, ttl: .seconds(60))
        #expect(try await verifier.verify(token).user == id)
    }

    @Test func nonPositiveLifetimeIsRefused() async {
        await expectTokenError(.invalidLifetime) {
            _ = try await issuer.issue(user: "alice", device: "phone", home: "eu", ttl: .zero)
        }
    }

    @Test func identifierSyntax() {
        #expect(IdentifierSyntax.isValid("alice-phone_2"))
        #expect(!IdentifierSyntax.isValid(""))
        #expect(!IdentifierSyntax.isValid("a+b"))
        #expect(!IdentifierSyntax.isValid(String(repeating: "a", count: 65)))
    }
}
