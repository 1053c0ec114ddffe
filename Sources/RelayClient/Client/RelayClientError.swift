/// Why a `RelayClient` operation failed.
public enum RelayClientError: Error, Sendable, Hashable {
    /// Not an endpoint (`host:port`).
    case invalidEndpoint(String)
    /// Not a conversation id (docs/protocol.md, "Identifiers").
    case invalidConversation(String)
    /// The configuration names no endpoint.
    case noEndpoints
    /// Every endpoint failed; one description per attempt, in order.
    case unreachable([String])
    /// The relay refused the connection: CONNACK reason code (MQTT 3.1.1 return code), reason string.
    case connectRefused(reasonCode: UInt8, reason: String?)
    /// SUBACK refused `d/<device>/#`.
    case subscriptionRefused(reasonCode: UInt8)
    /// The relay did not accept a send: PUBACK reason code (MQTT 5) or a `Status REFUSED`
    /// (MQTT 3.1.1, reason code 0), with the relay's error code and message when it gave one.
    case sendRefused(reasonCode: UInt8, code: String?, message: String?)
    /// No PUBACK after the configured number of attempts (all with the same client message id).
    case sendFailed(clientMessageID: String, attempts: Int)
    /// The relay refused a publish (receipt, request) with this PUBACK reason code.
    case publishRefused(topic: String, reasonCode: UInt8)
    /// No PUBACK for a publish (receipt, request) in time.
    case publishTimedOut(topic: String)
    /// No response to a request in time.
    case requestTimedOut(method: String)
    /// The response could not be decoded.
    case malformedResponse(method: String)
    /// The client was closed.
    case closed
}
