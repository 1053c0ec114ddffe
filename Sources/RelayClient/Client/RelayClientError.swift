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
    /// The relay answered a request with `Response.error`.
    case requestFailed(method: String, code: String, message: String)
    /// The client was closed.
    case closed
}

extension RelayClientError: CustomStringConvertible {
    /// One line for people: what failed, the relay's reason code in hex and its error code and message.
    public var description: String {
        func hex(_ code: UInt8) -> String { "0x" + String(code, radix: 16, uppercase: true) }
        switch self {
        case .invalidEndpoint(let text): return "\(text) is not an endpoint (host:port)"
        case .invalidConversation(let text): return "\(text) is not a conversation id"
        case .noEndpoints: return "no endpoint configured"
        case .unreachable(let attempts): return "no endpoint answered: \(attempts.joined(separator: "; "))"
        case .connectRefused(let code, let reason): return "connection refused (CONNACK \(hex(code)))\(reason.map { ": \($0)" } ?? "")"
        case .subscriptionRefused(let code): return "subscription to the device's topics refused (SUBACK \(hex(code)))"
        case .sendRefused(let code, let error, let message):
            let puback = code == 0 ? "" : " (PUBACK \(hex(code)))"
            let detail = [error, message].compactMap { $0 }.joined(separator: ": ")
            return "send refused\(puback)\(detail.isEmpty ? "" : ": \(detail)")"
        case .sendFailed(let id, let attempts): return "send \(id) not acknowledged after \(attempts) attempts"
        case .publishRefused(let topic, let code): return "publish on \(topic) refused (PUBACK \(hex(code)))"
        case .publishTimedOut(let topic): return "no PUBACK for the publish on \(topic)"
        case .requestTimedOut(let method): return "no answer to \(method) in time"
        case .malformedResponse(let method): return "the answer to \(method) does not decode"
        case .requestFailed(let method, let code, let message): return "\(method) refused: \(code)\(message.isEmpty ? "" : ": \(message)")"
        case .closed: return "the client is closed"
        }
    }
}
