/// An error that is answered to a device: a stable ``ErrorCode`` for the
/// `Relay_V1_Error` (MQTT 3.1.1 clients and request answers), an MQTT 5.0
/// reason code byte for the PUBACK or SUBACK, and a message safe to show the
/// client (it never holds another user's data).
public protocol RelayRefusal: Error, Sendable {
    /// The stable code.
    var code: ErrorCode { get }
    /// The MQTT 5.0 reason code byte (see ``RefusalReasonCode``).
    var reasonCode: UInt8 { get }
    /// A one-line explanation for the client.
    var message: String { get }
    /// Seconds after which a retry may succeed; 0 when retrying will not help
    /// by itself.
    var retryAfterSeconds: UInt32 { get }
}

extension RelayRefusal {
    /// No retry hint by default.
    public var retryAfterSeconds: UInt32 { 0 }
}

extension Relay_V1_Error {
    /// The protobuf error for `refusal`.
    public init(_ refusal: some RelayRefusal) {
        self.init()
        self.code = refusal.code.rawValue
        self.message = refusal.message
        self.retryAfterSeconds = refusal.retryAfterSeconds
    }
}
