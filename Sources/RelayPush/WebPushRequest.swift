import Foundation

/// How urgent a push is (RFC 8030 §5.3): messages wake the device at once,
/// statuses and events may wait for the device's next good moment.
public enum PushUrgency: String, Sendable, Equatable, Comparable {
    case normal
    case high

    /// `normal` < `high`.
    public static func < (a: PushUrgency, b: PushUrgency) -> Bool { a == .normal && b == .high }

    /// Seconds the push service keeps an undelivered push (RFC 8030 §5.2).
    public var timeToLive: Int { self == .high ? 24 * 3600 : 3600 }
}

/// The body every push carries, before encryption: a wake-up and an
/// opaque id, nothing about what is waiting (no sender, no conversation,
/// no content). The app connects and drains its queue.
public struct PushHint: Sendable, Equatable {
    /// Random, 16 hex digits, for the app's logs and deduplication only.
    public var id: String
    /// The urgency the relay sent it with.
    public var urgency: PushUrgency

    /// A hint with a fresh random id.
    public init(urgency: PushUrgency) {
        self.id = String(UInt64.random(in: .min ... .max), radix: 16)
        self.urgency = urgency
    }

    /// A hint with a given id.
    public init(id: String, urgency: PushUrgency) {
        self.id = id
        self.urgency = urgency
    }

    /// `{"type":"wake","id":"…","urgency":"high"}`.
    public var json: [UInt8] {
        Array(#"{"type":"wake","id":"\#(id.filter(\.isHexDigit))","urgency":"\#(urgency.rawValue)"}"#.utf8)
    }
}

/// One Web Push request (RFC 8030 §5), ready for an HTTP client.
public struct WebPushRequest: Sendable {
    /// POST to this URL.
    public var url: URL
    /// `Content-Encoding`, `Content-Type`, `TTL`, `Urgency`, `Topic`, `Authorization`.
    public var headers: [(String, String)]
    /// The RFC 8291 encrypted body.
    public var body: [UInt8]

    /// The `Topic` every push of this relay carries: a newer push replaces
    /// an older undelivered one for the same subscription (RFC 8030 §5.4).
    public static let topic = "relay-wake"

    /// Encrypts `hint` to the subscription's keys and signs a VAPID token
    /// for its origin, valid for 12 hours from `now`.
    public init(endpoint: URL, keys: WebPushKeys, hint: PushHint, vapid: VAPIDKey, subject: String, now: Date) throws(PushError) {
        self.url = endpoint
        self.body = try WebPushEncryption.encrypt(hint.json, to: keys)
        let authorization = try vapid.authorization(endpoint: endpoint.absoluteString, subject: subject, expires: now.addingTimeInterval(12 * 3600))
        self.headers = [
            ("Content-Encoding", "aes128gcm"),
            ("Content-Type", "application/octet-stream"),
            ("TTL", "\(hint.urgency.timeToLive)"),
            ("Urgency", hint.urgency.rawValue),
            ("Topic", Self.topic),
            ("Authorization", authorization),
        ]
    }
}

extension Character {
    fileprivate var isHexDigit: Bool { isASCII && (isNumber || ("a"..."f").contains(self)) }
}
