import Crypto
import Foundation

/// Token-based authentication to APNs: the team's `.p8` signing key (a
/// P-256 key), its key id and the team id. A provider token is an ES256
/// JWT with header `kid` and claims `iss` (team) and `iat`.
public struct APNsCredentials: Sendable {
    /// The signing key from Apple's developer account (`AuthKey_<kid>.p8`).
    public let key: P256.Signing.PrivateKey
    /// The key's 10-character id (the JWT header's `kid`).
    public let keyID: String
    /// The team's 10-character id (the JWT's `iss`).
    public let teamID: String

    /// Checks the ids' shape (ASCII letters and digits, 1…32 characters).
    public init(key: P256.Signing.PrivateKey, keyID: String, teamID: String) throws(PushError) {
        guard Self.isID(keyID) else { throw PushError(.badKey, "the APNs key id is not 1…32 letters and digits") }
        guard Self.isID(teamID) else { throw PushError(.badKey, "the APNs team id is not 1…32 letters and digits") }
        self.key = key
        self.keyID = keyID
        self.teamID = teamID
    }

    /// Reads the `.p8` file's PEM (PKCS #8 P-256).
    public init(pem: String, keyID: String, teamID: String) throws(PushError) {
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw PushError(.badKey, "the APNs key is not a PEM P-256 private key: \(error)")
        }
        try self.init(key: key, keyID: keyID, teamID: teamID)
    }

    /// A provider token issued at `issuedAt` (seconds since 1970).
    public func providerToken(issuedAt: Int64) throws(PushError) -> String {
        try JWS.es256(header: [("alg", .string("ES256")), ("kid", .string(keyID))],
                      claims: [("iss", .string(teamID)), ("iat", .integer(issuedAt))],
                      key: key)
    }

    private static func isID(_ text: String) -> Bool {
        (1...32).contains(text.utf8.count) && text.utf8.allSatisfy(\.isASCIIAlphanumeric)
    }
}

/// When to sign a new provider token. APNs refuses a token older than an
/// hour (`ExpiredProviderToken`) and one replaced more often than every
/// 20 minutes (`TooManyProviderTokenUpdates`): a token is reused for
/// `lifetimeSeconds` (40 minutes), then replaced.
public struct ProviderTokenCache: Sendable {
    /// How long one token is used, in seconds (between APNs' 20 and 60 minutes).
    public static let lifetimeSeconds: Int64 = 40 * 60
    /// The shortest age at which a token may be replaced early (after APNs
    /// said it expired), in seconds.
    public static let minimumAgeSeconds: Int64 = 20 * 60

    /// The token in use and when it was issued.
    public private(set) var current: (token: String, issuedAt: Int64)?

    /// No token yet.
    public init() {}

    /// The token to send at `now`, or nil when a new one must be signed.
    public func usable(now: Int64) -> String? {
        guard let current, now >= current.issuedAt, now - current.issuedAt < Self.lifetimeSeconds else { return nil }
        return current.token
    }

    /// Records a freshly signed token.
    public mutating func store(_ token: String, issuedAt: Int64) {
        current = (token, issuedAt)
    }

    /// APNs said the token expired or is invalid: it is dropped, unless it
    /// is younger than 20 minutes (replacing it would be refused as too many
    /// updates; the clock is then what is wrong, and a new token would not help).
    public mutating func rejected(now: Int64) {
        guard let current, now - current.issuedAt >= Self.minimumAgeSeconds || now < current.issuedAt else { return }
        self.current = nil
    }
}

/// One APNs request (Apple's "Sending notification requests to APNs"):
/// `POST /3/device/<token>` over HTTP/2 with the headers below and a body
/// that wakes the app and says nothing about what is waiting.
public struct APNsRequest: Sendable, Equatable {
    /// The request path, `/3/device/<hex token>`.
    public var path: String
    /// `authorization`, `apns-push-type`, `apns-topic`, `apns-priority`,
    /// `apns-expiration`, `apns-collapse-id`, `content-type`.
    public var headers: [String: String]
    /// The JSON payload.
    public var body: [UInt8]

    /// The collapse id of every push: a newer one replaces an older one
    /// the device has not shown yet.
    public static let collapseID = "relay-wake"

    /// A message (`high`) is an `alert` push at priority 10 with
    /// `mutable-content` (the app's notification service extension connects,
    /// drains and writes the notification; the alert itself only says
    /// `loc-key` `RELAY_NEW_MESSAGES`, a string of the app's). Anything else
    /// (`normal`) is a `background` push at priority 5 with `content-available`.
    /// Expires after the urgency's TTL from `now` (seconds since 1970).
    public init(token: String, topic: String, hint: PushHint, providerToken: String, now: Int64) {
        self.path = "/3/device/\(token)"
        let pushType: String
        let aps: String
        switch hint.urgency {
        case .high:
            pushType = "alert"
            aps = #"{"alert":{"loc-key":"RELAY_NEW_MESSAGES"},"mutable-content":1}"#
        case .normal:
            pushType = "background"
            aps = #"{"content-available":1}"#
        }
        let wake = String(decoding: hint.json, as: UTF8.self)
        self.body = Array(#"{"aps":\#(aps),"relay":\#(wake)}"#.utf8)
        self.headers = [
            "authorization": "bearer \(providerToken)",
            "apns-push-type": pushType,
            "apns-topic": topic,
            "apns-priority": hint.urgency == .high ? "10" : "5",
            "apns-expiration": String(now + Int64(hint.urgency.timeToLive)),
            "apns-collapse-id": Self.collapseID,
            "content-type": "application/json",
        ]
    }

    /// What an APNs answer means: 200 sent; 410, and 400 `BadDeviceToken`
    /// or `Unregistered` (or `DeviceTokenNotForTopic`), gone; 429 and 5xx
    /// retried (never before `Retry-After`), a 429 `TooManyRequests` (too
    /// many pushes to this one device token) without counting against the
    /// provider; 403 `ExpiredProviderToken` or
    /// `InvalidProviderToken` retried with a new token; anything else refused.
    public static func outcome(status: Int, reason: String?, retryAfter: String?) -> PushOutcome {
        switch status {
        case 200..<300: return .sent
        case 410: return .gone
        case 400 where ["BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"].contains(reason ?? ""): return .gone
        case 403 where ["ExpiredProviderToken", "InvalidProviderToken"].contains(reason ?? ""): return .retry(retryAfter: nil)
        case 429 where reason == "TooManyRequests": return .throttledDevice(retryAfter: retryAfter.flatMap(RetryAfter.seconds(from:)))
        case 429, 500..<600: return .retry(retryAfter: retryAfter.flatMap(RetryAfter.seconds(from:)))
        default: return .rejected
        }
    }

    /// The `reason` of an APNs error body (`{"reason":"BadDeviceToken"}`),
    /// when it is one of the short identifiers APNs uses (letters only).
    public static func reason(fromBody body: [UInt8]) -> String? {
        guard body.count <= 4096,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let reason = object["reason"] as? String,
              (1...64).contains(reason.utf8.count), reason.utf8.allSatisfy(\.isASCIIAlphanumeric)
        else { return nil }
        return reason
    }
}
