/// A stable, machine-readable error code: the `code` of a `Relay_V1_Error`
/// sent to a device. Clients switch on these strings; never rename one.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The string on the wire.
    public let rawValue: String
    /// The code `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Too many sends or requests; retry after `retry_after_seconds`.
    public static let rateLimited = ErrorCode(rawValue: "rate_limited")
    /// The sender is not a member of the conversation.
    public static let notMember = ErrorCode(rawValue: "not_member")
    /// Only a group admin may do this.
    public static let notAdmin = ErrorCode(rawValue: "not_admin")
    /// The group would exceed its member limit.
    public static let groupFull = ErrorCode(rawValue: "group_full")
    /// A user would exceed the devices-per-user limit.
    public static let tooManyDevices = ErrorCode(rawValue: "too_many_devices")
    /// Some recipient devices have no ciphertext: refresh device lists and resend.
    public static let staleDevices = ErrorCode(rawValue: "stale_devices")
    /// The payload is larger than the region allows.
    public static let tooLarge = ErrorCode(rawValue: "too_large")
    /// The payload or a field of it is malformed.
    public static let badRequest = ErrorCode(rawValue: "bad_request")
    /// The thing named does not exist.
    public static let notFound = ErrorCode(rawValue: "not_found")
    /// The topic is not one a device may publish or subscribe to.
    public static let forbiddenTopic = ErrorCode(rawValue: "forbidden_topic")
    /// The recipient's queue is at its cap and the policy refuses new messages.
    public static let queueFull = ErrorCode(rawValue: "queue_full")
    /// The thing to create exists already (a group id).
    public static let exists = ErrorCode(rawValue: "exists")
    /// A per-user allowance is used up (stored keys, uploads).
    public static let quota = ErrorCode(rawValue: "quota")
    /// The request is not allowed for this device (another user's device, a
    /// link code that is not the caller's).
    public static let forbidden = ErrorCode(rawValue: "forbidden")
    /// A device token or link token that is invalid or expired.
    public static let badToken = ErrorCode(rawValue: "bad_token")
    /// A signature (a signed prekey's) does not verify.
    public static let badSignature = ErrorCode(rawValue: "bad_signature")
    /// The region lost the conversation's or device's ownership (fenced by a
    /// newer term): retry, the device will be moved.
    public static let fenced = ErrorCode(rawValue: "fenced")
    /// The conversation or device is served by another region.
    public static let wrongRegion = ErrorCode(rawValue: "wrong_region")
    /// The store or a peer region did not answer in time; nothing was
    /// acknowledged, retrying later may succeed.
    public static let unavailable = ErrorCode(rawValue: "unavailable")

    /// Codes of failures that pass: the store is down or busy, or the region
    /// is between owners (Redis's own error codes arrive lowercased).
    private static let passing: Set<String> = [
        "unavailable", "fenced", "wrong_region",
        "loading", "busy", "oom", "readonly", "masterdown", "clusterdown", "tryagain", "moved", "ask",
        "noscript", "misconf", "noreplicas", "execabort",
    ]

    /// Whether trying the same thing again can never succeed (a refusal, a
    /// bad value); false for failures that pass (`unavailable`, a Redis
    /// that is loading, a fenced region).
    public var isPermanent: Bool { !Self.passing.contains(rawValue) }

    /// The MQTT 5.0 reason code byte of a PUBACK refusing a send or a receipt
    /// with this code (§3.4.2.1 allows only 0x80, 0x83, 0x87, 0x90, 0x91,
    /// 0x97 and 0x99 there); docs/protocol.md lists them. Codes without a
    /// reason code of their own get 0x83, the `Error.code` saying which.
    public var pubackReasonCode: UInt8 {
        switch self {
        case .notMember, .fenced, .notAdmin: return RefusalReasonCode.notAuthorized
        case .rateLimited, .quota, .tooLarge: return RefusalReasonCode.quotaExceeded
        case .badRequest: return RefusalReasonCode.payloadFormatInvalid
        case .unavailable: return RefusalReasonCode.unspecifiedError
        default: return RefusalReasonCode.implementationSpecificError
        }
    }

    /// The string itself.
    public var description: String { rawValue }
}
