import MQTT
import RelayCore
import RelayStore

/// A refusal or failure in the chat relay, with the stable code a device
/// sees in `Error.code` (docs/protocol.md) and the MQTT reason code.
struct ChatError: Error, CustomStringConvertible {
    /// Stable, machine-readable: "not_member", "group_full", "not_admin",
    /// "not_found", "exists", "bad_request", "too_large", "rate_limited",
    /// "fenced", "unavailable".
    var code: String
    var message: String
    /// Seconds after which a retry may succeed (rate limits); 0 otherwise.
    var retryAfterSeconds: UInt32 = 0

    init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The chat error for one of RelayCore's refusals.
    init(_ refusal: some RelayRefusal) {
        self.init(refusal.code.rawValue, refusal.message)
        self.retryAfterSeconds = refusal.retryAfterSeconds
    }

    /// Maps a script's error reply ("NOT_MEMBER …") to its code; anything
    /// else is "unavailable".
    init(redis error: any Error) {
        if let redis = error as? RedisError, let code = redis.kind.serverCode {
            self.init(code.lowercased(), redis.message)
        } else if let chat = error as? ChatError {
            self = chat
        } else {
            self.init("unavailable", "\(error)")
        }
    }

    static func storeReply(_ detail: String) -> ChatError { ChatError("unavailable", detail) }

    /// The PUBACK reason code for a refused send (MQTT 5.0 §3.4.2.1 allows
    /// only some codes in PUBACK).
    var pubackReasonCode: ReasonCode {
        switch code {
        case "not_member", "fenced", "not_admin": return .notAuthorized
        case "rate_limited", "quota", "too_large": return .quotaExceeded
        case "bad_request": return .payloadFormatInvalid
        default: return .unspecifiedError
        }
    }

    /// The error as devices see it, in a Status or a Response.
    var wire: Relay_V1_Error {
        var detail = Relay_V1_Error()
        detail.code = code
        detail.message = message
        detail.retryAfterSeconds = retryAfterSeconds
        return detail
    }

    /// A REFUSED status for a send (`clientMessageID` in `conversation`).
    func refusedStatus(conversation: String, clientMessageID: String) -> Relay_V1_Status {
        var status = Relay_V1_Status()
        status.kind = .refused
        status.conversation = conversation
        status.clientMessageID = clientMessageID
        status.error = wire
        return status
    }

    var description: String { "\(code): \(message)" }
}
