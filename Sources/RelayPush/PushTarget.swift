import Foundation

/// Where a device's pushes go, validated: every field came off the wire
/// (a device's `q/push.register`) or out of Redis.
public enum PushTarget: Sendable, Equatable {
    /// A Web Push (RFC 8030) or UnifiedPush endpoint with its RFC 8291 keys.
    case webPush(endpoint: URL, keys: WebPushKeys)
    /// An APNs device token (hex) for `topic` (the app's bundle id).
    case apns(token: String, topic: String, sandbox: Bool)
    /// An FCM registration token.
    case fcm(token: String)

    /// Longest endpoint accepted, in bytes (browsers' are under 500).
    public static let maximumEndpointBytes = 1024
    /// Longest token or topic accepted.
    public static let maximumTokenBytes = 512

    /// The provider, as metrics and logs name it.
    public var provider: PushProvider {
        switch self {
        case .webPush: return .webPush
        case .apns: return .apns
        case .fcm: return .fcm
        }
    }

    /// A Web Push target: an http(s) URL with a host, and keys of the right
    /// shape; plain `http` and loopback or private hosts only when
    /// `allowPrivate` (a test or a local deployment).
    public static func validatedWebPush(endpoint: String, p256dh: [UInt8], auth: [UInt8], allowPrivate: Bool) throws(PushError) -> PushTarget {
        guard endpoint.utf8.count <= maximumEndpointBytes else { throw PushError(.badTarget, "the endpoint is longer than \(maximumEndpointBytes) bytes") }
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.user == nil, url.password == nil
        else { throw PushError(.badTarget, "the endpoint is not an absolute URL with a host") }
        guard scheme == "https" || (scheme == "http" && allowPrivate) else {
            throw PushError(.badTarget, "the endpoint must be https")
        }
        if !allowPrivate, AddressPolicy.isRefusedHost(host) {
            throw PushError(.badTarget, "the endpoint's host \(host) is a loopback or private address")
        }
        return .webPush(endpoint: url, keys: try WebPushKeys(publicKey: p256dh, authSecret: auth))
    }

    /// An APNs target: a hex token and a bundle id.
    public static func validatedAPNs(token: String, topic: String, sandbox: Bool) throws(PushError) -> PushTarget {
        guard !token.isEmpty, token.utf8.count <= maximumTokenBytes, token.utf8.allSatisfy({ $0.isHexDigit }) else {
            throw PushError(.badTarget, "the APNs token is not hex")
        }
        guard !topic.isEmpty, topic.utf8.count <= 255,
              topic.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else { throw PushError(.badTarget, "the APNs topic is not a bundle id") }
        return .apns(token: token.lowercased(), topic: topic, sandbox: sandbox)
    }

    /// An FCM target: a registration token (printable ASCII).
    public static func validatedFCM(token: String) throws(PushError) -> PushTarget {
        guard !token.isEmpty, token.utf8.count <= maximumTokenBytes,
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") })
        else { throw PushError(.badTarget, "the FCM token is not printable ASCII") }
        return .fcm(token: token)
    }
}

/// The push providers, as metrics label them.
public enum PushProvider: String, Sendable, CaseIterable {
    case webPush = "webpush"
    case apns
    case fcm
}

extension UInt8 {
    var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }

    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
    }
}
