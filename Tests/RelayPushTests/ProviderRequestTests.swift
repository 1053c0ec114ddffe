import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import RelayPush

/// The JSON object a token part or a body holds.
func jsonObject(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

/// A compact JWS's three parts, decoded.
func jwsParts(_ token: String) throws -> (header: [String: Any], claims: [String: Any], input: [UInt8], signature: [UInt8]) {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    try #require(parts.count == 3)
    return (try jsonObject(b64(parts[0])), try jsonObject(b64(parts[1])), Array("\(parts[0]).\(parts[1])".utf8), try b64(parts[2]))
}

@Suite struct APNsTests {
    let key = P256.Signing.PrivateKey()

    @Test func providerTokenIsAnES256JWTWithKidIssAndIat() throws {
        let credentials = try APNsCredentials(key: key, keyID: "ABC123DEFG", teamID: "DEF123GHIJ")
        let token = try credentials.providerToken(issuedAt: 1_700_000_000)
        let parts = try jwsParts(token)
        #expect(parts.header["alg"] as? String == "ES256")
        #expect(parts.header["kid"] as? String == "ABC123DEFG")
        #expect(parts.claims["iss"] as? String == "DEF123GHIJ")
        #expect(parts.claims["iat"] as? Int == 1_700_000_000)
        #expect(parts.claims.count == 2)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: parts.signature)
        #expect(key.publicKey.isValidSignature(signature, for: parts.input))
    }

    @Test func readsAP8FileAndRefusesBadIDs() throws {
        let credentials = try APNsCredentials(pem: key.pemRepresentation, keyID: "K1", teamID: "T1")
        #expect(credentials.key.publicKey.rawRepresentation == key.publicKey.rawRepresentation)
        #expect(throws: PushError.self) { try APNsCredentials(pem: "nope", keyID: "K1", teamID: "T1") }
        #expect(throws: PushError.self) { try APNsCredentials(key: key, keyID: "K 1", teamID: "T1") }
        #expect(throws: PushError.self) { try APNsCredentials(key: key, keyID: "K1", teamID: "") }
    }

    @Test func aTokenIsReusedForFortyMinutesThenReplaced() {
        var cache = ProviderTokenCache()
        #expect(cache.usable(now: 1000) == nil)
        cache.store("t1", issuedAt: 1000)
        #expect(cache.usable(now: 1000) == "t1")
        #expect(cache.usable(now: 1000 + 39 * 60) == "t1")
        #expect(cache.usable(now: 1000 + 40 * 60) == nil)
        #expect(cache.usable(now: 999) == nil)  // the clock went back: sign anew
    }

    @Test func aRejectedTokenIsDroppedOnlyPastTwentyMinutes() {
        var cache = ProviderTokenCache()
        cache.store("t1", issuedAt: 1000)
        cache.rejected(now: 1000 + 5 * 60)
        #expect(cache.usable(now: 1000 + 5 * 60) == "t1")  // APNs would refuse a replacement this soon
        cache.rejected(now: 1000 + 21 * 60)
        #expect(cache.usable(now: 1000 + 21 * 60) == nil)
    }

    @Test func aMessageIsAMutableAlertAtPriorityTen() throws {
        let request = APNsRequest(token: "ab01", topic: "com.example.chat", hint: PushHint(id: "00ff", urgency: .high), providerToken: "JWT", now: 1_000)
        #expect(request.path == "/3/device/ab01")
        #expect(request.headers == [
            "authorization": "bearer JWT", "apns-push-type": "alert", "apns-topic": "com.example.chat", "apns-priority": "10",
            "apns-expiration": "87400", "apns-collapse-id": "relay-wake", "content-type": "application/json",
        ])
        let body = try jsonObject(request.body)
        let aps = try #require(body["aps"] as? [String: Any])
        #expect(aps["mutable-content"] as? Int == 1)
        #expect(aps["content-available"] == nil)
        #expect((aps["alert"] as? [String: String]) == ["loc-key": "RELAY_NEW_MESSAGES"])
        #expect((body["relay"] as? [String: String]) == ["type": "wake", "id": "00ff", "urgency": "high"])
        #expect(Set(body.keys) == ["aps", "relay"])
    }

    @Test func aStatusIsABackgroundPushAtPriorityFive() throws {
        let request = APNsRequest(token: "ab01", topic: "com.example.chat", hint: PushHint(id: "1", urgency: .normal), providerToken: "JWT", now: 1_000)
        #expect(request.headers["apns-push-type"] == "background")
        #expect(request.headers["apns-priority"] == "5")
        #expect(request.headers["apns-expiration"] == "4600")
        let aps = try #require(try jsonObject(request.body)["aps"] as? [String: Any])
        #expect(aps.count == 1 && aps["content-available"] as? Int == 1)
    }

    @Test func classifiesAPNsAnswers() {
        #expect(APNsRequest.outcome(status: 200, reason: nil, retryAfter: nil) == .sent)
        #expect(APNsRequest.outcome(status: 410, reason: "Unregistered", retryAfter: nil) == .gone)
        #expect(APNsRequest.outcome(status: 400, reason: "BadDeviceToken", retryAfter: nil) == .gone)
        #expect(APNsRequest.outcome(status: 400, reason: "BadCollapseId", retryAfter: nil) == .rejected)
        #expect(APNsRequest.outcome(status: 403, reason: "ExpiredProviderToken", retryAfter: nil) == .retry(retryAfter: nil))
        #expect(APNsRequest.outcome(status: 403, reason: "BadCertificate", retryAfter: nil) == .rejected)
        // Too many pushes to one device token: retried, without counting against APNs itself.
        #expect(APNsRequest.outcome(status: 429, reason: "TooManyRequests", retryAfter: "3") == .throttledDevice(retryAfter: 3))
        #expect(APNsRequest.outcome(status: 429, reason: "TooManyRequests", retryAfter: "3").isProviderFailure == false)
        #expect(APNsRequest.outcome(status: 429, reason: "TooManyProviderTokenUpdates", retryAfter: nil) == .retry(retryAfter: nil))
        #expect(APNsRequest.outcome(status: 429, reason: nil, retryAfter: "4").isProviderFailure)
        #expect(APNsRequest.outcome(status: 503, reason: nil, retryAfter: nil) == .retry(retryAfter: nil))
        #expect(APNsRequest.reason(fromBody: Array(#"{"reason":"BadDeviceToken"}"#.utf8)) == "BadDeviceToken")
        #expect(APNsRequest.reason(fromBody: Array(#"{"reason":"<script>"}"#.utf8)) == nil)
        #expect(APNsRequest.reason(fromBody: Array("not json".utf8)) == nil)
    }
}

@Suite struct FCMTests {
    static let rsa = Result { try _RSA.Signing.PrivateKey(keySize: .bits2048) }

    static func accountJSON(key: _RSA.Signing.PrivateKey, tokenURI: String = "https://oauth2.example.net/token") -> [UInt8] {
        let object: [String: Any] = [
            "type": "service_account", "project_id": "relay-test", "private_key_id": "abc123",
            "private_key": key.pemRepresentation, "client_email": "push@relay-test.iam.example",
            "token_uri": tokenURI, "client_id": "1",
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
    }

    @Test func grantAssertionIsAnRS256JWTForTheTokenURI() throws {
        let key = try Self.rsa.get()
        let account = try FCMServiceAccount(json: Self.accountJSON(key: key))
        #expect(account.projectID == "relay-test")
        let parts = try jwsParts(try account.assertion(now: 1_700_000_000))
        #expect(parts.header["alg"] as? String == "RS256")
        #expect(parts.header["kid"] as? String == "abc123")
        #expect(parts.claims["iss"] as? String == "push@relay-test.iam.example")
        #expect(parts.claims["scope"] as? String == "https://www.googleapis.com/auth/firebase.messaging")
        #expect(parts.claims["aud"] as? String == "https://oauth2.example.net/token")
        #expect(parts.claims["iat"] as? Int == 1_700_000_000)
        #expect(parts.claims["exp"] as? Int == 1_700_003_600)
        let signature = _RSA.Signing.RSASignature(rawRepresentation: parts.signature)
        #expect(key.publicKey.isValidSignature(signature, for: parts.input, padding: .insecurePKCS1v1_5))
        let body = String(decoding: try account.grantBody(now: 1), as: UTF8.self)
        #expect(body.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey"))
    }

    @Test func refusesMalformedAccountFiles() throws {
        let key = try Self.rsa.get()
        #expect(throws: PushError.self) { try FCMServiceAccount(json: Array("[]".utf8)) }
        #expect(throws: PushError.self) { try FCMServiceAccount(json: Self.accountJSON(key: key, tokenURI: "ftp://x/token")) }
        var object = try jsonObject(Self.accountJSON(key: key))
        object["private_key"] = P256.Signing.PrivateKey().pemRepresentation
        let ecKey = Array(try JSONSerialization.data(withJSONObject: object))
        #expect(throws: PushError.self) { try FCMServiceAccount(json: ecKey) }
        object = try jsonObject(Self.accountJSON(key: key))
        object["project_id"] = "../x"
        let badProject = Array(try JSONSerialization.data(withJSONObject: object))
        #expect(throws: PushError.self) { try FCMServiceAccount(json: badProject) }
    }

    @Test func readsAnAccessTokenAndStopsUsingItBeforeItExpires() throws {
        let token = try FCMAccessToken(response: Array(#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#.utf8), now: 100)
        #expect(token.token == "ya29.x")
        #expect(token.isUsable(now: 100 + 3538))
        #expect(!token.isUsable(now: 100 + 3539))
        #expect(throws: PushError.self) { try FCMAccessToken(response: Array(#"{"expires_in":3599}"#.utf8), now: 0) }
        #expect(throws: PushError.self) { try FCMAccessToken(response: Array(#"{"access_token":"a","token_type":"MAC"}"#.utf8), now: 0) }
        #expect(throws: PushError.self) { try FCMAccessToken(response: Array(#"{"access_token":"a","expires_in":-5}"#.utf8), now: 0) }
    }

    @Test func aPushIsADataOnlyMessage() throws {
        let request = FCMRequest(projectID: "relay-test", token: "tok:en", hint: PushHint(id: "0a", urgency: .high))
        #expect(request.path == "/v1/projects/relay-test/messages:send")
        let message = try #require(try jsonObject(request.body)["message"] as? [String: Any])
        #expect(Set(message.keys) == ["token", "data", "android"])  // no "notification": data only
        #expect(message["token"] as? String == "tok:en")
        #expect((message["data"] as? [String: String]) == ["type": "wake", "id": "0a", "urgency": "high"])
        #expect((message["android"] as? [String: String]) == ["priority": "HIGH", "ttl": "86400s", "collapse_key": "relay-wake"])
        let normal = FCMRequest(projectID: "p", token: "t", hint: PushHint(id: "1", urgency: .normal))
        let android = try #require(try jsonObject(normal.body)["message"] as? [String: Any])["android"] as? [String: String]
        #expect(android?["priority"] == "NORMAL" && android?["ttl"] == "3600s")
    }

    @Test func classifiesFCMAnswers() {
        let unregistered = Array(#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#.utf8)
        #expect(FCMRequest.errorCode(fromBody: unregistered) == "UNREGISTERED")
        #expect(FCMRequest.errorCode(fromBody: Array(#"{"error":{"status":"NOT_FOUND"}}"#.utf8)) == "NOT_FOUND")
        #expect(FCMRequest.errorCode(fromBody: Array("<html>".utf8)) == nil)
        #expect(FCMRequest.outcome(status: 200, errorCode: nil, retryAfter: nil) == .sent)
        #expect(FCMRequest.outcome(status: 404, errorCode: "UNREGISTERED", retryAfter: nil) == .gone)
        #expect(FCMRequest.outcome(status: 404, errorCode: "NOT_FOUND", retryAfter: nil) == .rejected)
        #expect(FCMRequest.outcome(status: 400, errorCode: "INVALID_ARGUMENT", retryAfter: nil) == .rejected)
        #expect(FCMRequest.outcome(status: 401, errorCode: nil, retryAfter: nil) == .retry(retryAfter: nil))
        #expect(FCMRequest.outcome(status: 429, errorCode: "QUOTA_EXCEEDED", retryAfter: "9") == .retry(retryAfter: 9))
        #expect(FCMRequest.outcome(status: 503, errorCode: "UNAVAILABLE", retryAfter: nil) == .retry(retryAfter: nil))
    }
}

@Suite struct JWSTests {
    @Test func writesObjectsInOrderWithEscapes() {
        #expect(JWS.object([("a", .string("x\"/y")), ("b", .integer(-3)), ("c", .object([("d", .string("e"))]))]) == #"{"a":"x\"/y","b":-3,"c":{"d":"e"}}"#)
    }
}
