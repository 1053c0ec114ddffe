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

    /// The string itself.
    public var description: String { rawValue }
}
