import Foundation
import _CryptoExtras

/// A Google service account, from the JSON key file the Firebase console
/// gives (`type` `service_account`), validated: the fields FCM's HTTP v1
/// API needs and nothing else.
public struct FCMServiceAccount: Sendable {
    /// The Firebase project (`project_id`), in the send URL.
    public let projectID: String
    /// The account's e-mail (`client_email`), the grant's `iss`.
    public let clientEmail: String
    /// The key's id (`private_key_id`), the grant's header `kid`.
    public let privateKeyID: String?
    /// Where access tokens are granted (`token_uri`).
    public let tokenURI: URL
    /// The RSA key (`private_key`, PKCS #8 PEM).
    public let key: _RSA.Signing.PrivateKey

    /// The OAuth2 scope FCM's send API asks for.
    public static let scope = "https://www.googleapis.com/auth/firebase.messaging"
    /// How long a grant assertion is valid (Google's maximum, an hour).
    public static let assertionLifetimeSeconds: Int64 = 3600

    /// Parses and checks the key file's JSON.
    public init(json: [UInt8]) throws(PushError) {
        guard json.count <= 64 * 1024,
              let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
        else { throw PushError(.badKey, "the FCM service account file is not a JSON object") }
        func field(_ name: String) throws(PushError) -> String {
            guard let value = object[name] as? String, !value.isEmpty, value.utf8.count <= 8192 else {
                throw PushError(.badKey, "the FCM service account file has no \(name)")
            }
            return value
        }
        if let type = object["type"] as? String, type != "service_account" {
            throw PushError(.badKey, "the FCM service account file's type is \(type), not service_account")
        }
        let project = try field("project_id")
        guard project.utf8.count <= 128, project.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") }) else {
            throw PushError(.badKey, "the FCM project_id is not letters, digits and dashes")
        }
        let tokenURIText = try field("token_uri")
        guard let tokenURI = URL(string: tokenURIText), let scheme = tokenURI.scheme?.lowercased(), scheme == "https" || scheme == "http",
              tokenURI.host?.isEmpty == false
        else { throw PushError(.badKey, "the FCM token_uri is not an http(s) URL") }
        let pem = try field("private_key")
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw PushError(.badKey, "the FCM private_key is not a PEM RSA key of 2048 bits or more")
        }
        projectID = project
        clientEmail = try field("client_email")
        privateKeyID = (object["private_key_id"] as? String).flatMap { id in
            (1...128).contains(id.utf8.count) && id.utf8.allSatisfy(\.isASCIIAlphanumeric) ? id : nil
        }
        self.tokenURI = tokenURI
    }

    /// The JWT bearer grant's assertion (RFC 7523), issued at `now`.
    public func assertion(now: Int64) throws(PushError) -> String {
        var header: [(String, JWS.Value)] = [("alg", .string("RS256")), ("typ", .string("JWT"))]
        if let privateKeyID { header.append(("kid", .string(privateKeyID))) }
        return try JWS.rs256(
            header: header,
            claims: [
                ("iss", .string(clientEmail)), ("scope", .string(Self.scope)), ("aud", .string(tokenURI.absoluteString)),
                ("iat", .integer(now)), ("exp", .integer(now + Self.assertionLifetimeSeconds)),
            ],
            key: key)
    }

    /// The token request's form body (`application/x-www-form-urlencoded`).
    public func grantBody(now: Int64) throws(PushError) -> [UInt8] {
        let assertion = try assertion(now: now)  // base64url and dots: nothing to escape
        return Array("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)".utf8)
    }
}

/// An OAuth2 access token as the token endpoint grants it.
public struct FCMAccessToken: Sendable, Equatable {
    /// The bearer token.
    public var token: String
    /// When to stop using it (seconds since 1970): a minute before it expires.
    public var usableUntil: Int64

    /// Tokens are given up this long before they expire, in seconds.
    public static let marginSeconds: Int64 = 60

    /// Reads `{"access_token","expires_in","token_type":"Bearer"}` granted at `now`.
    public init(response: [UInt8], now: Int64) throws(PushError) {
        guard response.count <= 64 * 1024,
              let object = try? JSONSerialization.jsonObject(with: Data(response)) as? [String: Any],
              let token = object["access_token"] as? String, (1...4096).contains(token.utf8.count),
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw PushError(.badKey, "the token endpoint's answer holds no access_token") }
        if let type = object["token_type"] as? String, type.lowercased() != "bearer" {
            throw PushError(.badKey, "the token endpoint granted a \(type) token, not a bearer token")
        }
        let expiresIn = (object["expires_in"] as? NSNumber).map { $0.int64Value } ?? 3600
        guard (1...86_400).contains(expiresIn) else { throw PushError(.badKey, "the token endpoint's expires_in is out of range") }
        self.token = token
        self.usableUntil = now + max(expiresIn - Self.marginSeconds, expiresIn / 2)
    }

    /// Whether the token may be sent at `now`.
    public func isUsable(now: Int64) -> Bool { now < usableUntil }
}

/// One FCM HTTP v1 request: `POST /v1/projects/<id>/messages:send` with a
/// data-only message (the app's `onMessageReceived` connects and drains;
/// FCM shows nothing by itself).
public struct FCMRequest: Sendable, Equatable {
    /// The path under the FCM base URL.
    public var path: String
    /// The JSON body.
    public var body: [UInt8]

    /// The collapse key of every push: FCM keeps only the newest undelivered one.
    public static let collapseKey = "relay-wake"

    /// `{"message":{"token","data":{type,id,urgency},"android":{"priority","ttl","collapse_key"}}}`.
    public init(projectID: String, token: String, hint: PushHint) {
        self.path = "/v1/projects/\(projectID)/messages:send"
        let id = String(hint.id.unicodeScalars.filter { ("0"..."9").contains($0) || ("a"..."f").contains($0) })
        let message = JWS.object([("message", .object([
            ("token", .string(token)),
            ("data", .object([("type", .string("wake")), ("id", .string(id)), ("urgency", .string(hint.urgency.rawValue))])),
            ("android", .object([
                ("priority", .string(hint.urgency == .high ? "HIGH" : "NORMAL")),
                ("ttl", .string("\(hint.urgency.timeToLive)s")),
                ("collapse_key", .string(Self.collapseKey)),
            ])),
        ]))])
        self.body = Array(message.utf8)
    }

    /// What an FCM answer means: 200 sent; `UNREGISTERED` (404, or 400
    /// with that code) gone; another 404 (a wrong project) refused;
    /// 429 and 5xx retried (never before `Retry-After`);
    /// 401 retried with a new access token; anything else refused
    /// (`INVALID_ARGUMENT`, `SENDER_ID_MISMATCH`, …).
    public static func outcome(status: Int, errorCode: String?, retryAfter: String?) -> PushOutcome {
        switch status {
        case 200..<300: return .sent
        case 400 where errorCode == "UNREGISTERED", 404 where errorCode == "UNREGISTERED": return .gone
        case 401: return .retry(retryAfter: nil)
        case 429, 500..<600: return .retry(retryAfter: retryAfter.flatMap(RetryAfter.seconds(from:)))
        default: return .rejected
        }
    }

    /// The FCM error code of an error body: `details[].errorCode` of the
    /// `google.firebase.fcm.v1.FcmError` detail, else `error.status`;
    /// only short upper-case identifiers are returned.
    public static func errorCode(fromBody body: [UInt8]) -> String? {
        guard body.count <= 64 * 1024,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let error = object["error"] as? [String: Any]
        else { return nil }
        let details = (error["details"] as? [[String: Any]]) ?? []
        let code = details.compactMap { $0["errorCode"] as? String }.first ?? (error["status"] as? String)
        guard let code, (1...64).contains(code.utf8.count),
              code.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "_") })
        else { return nil }
        return code
    }
}
