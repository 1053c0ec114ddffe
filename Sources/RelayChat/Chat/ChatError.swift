import MQTT
import MQTTServer
import RelayCore
import RelayStore

/// A refusal or failure in the chat relay, with the stable code a device
/// sees in `Error.code` (docs/protocol.md) and the MQTT reason code.
struct ChatError: Error, CustomStringConvertible {
    /// Stable, machine-readable (RelayCore's ``ErrorCode``, docs/protocol.md).
    var code: ErrorCode
    var message: String
    /// Seconds after which a retry may succeed (rate limits); 0 otherwise.
    var retryAfterSeconds: UInt32 = 0

    init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The chat error for one of RelayCore's refusals.
    init(_ refusal: some RelayRefusal) {
        self.init(refusal.code, refusal.message)
        self.retryAfterSeconds = refusal.retryAfterSeconds
    }

    /// Maps a script's error reply ("NOT_MEMBER …") to its code; anything
    /// else is "unavailable".
    init(redis error: any Error) {
        if let redis = error as? RedisError, let code = redis.kind.serverCode {
            self.init(ErrorCode(rawValue: code.lowercased()), redis.message)
        } else if let chat = error as? ChatError {
            self = chat
        } else {
            self.init(.unavailable, "\(error)")
        }
    }

    static func storeReply(_ detail: String) -> ChatError { ChatError(.unavailable, detail) }

    /// Whether trying the same thing again can never succeed (``ErrorCode/isPermanent``).
    var isPermanent: Bool { code.isPermanent }

    /// The PUBACK reason code for a refused send or receipt (MQTT 5.0
    /// §3.4.2.1 allows only 0x80, 0x83, 0x87, 0x90, 0x91, 0x97 and 0x99 in a
    /// PUBACK); docs/protocol.md lists them.
    var pubackReasonCode: ReasonCode {
        ReasonCode(rawValue: code.pubackReasonCode)
    }

    /// The PUBACK for this refusal: its reason code and, for MQTT 5 clients,
    /// a Reason String `<code>: <message>` (the engine leaves it out for
    /// 3.1.1, which get the `Status REFUSED` instead).
    var acknowledgement: MQTTPublishAcknowledgement {
        var properties = MQTTProperties()
        properties.reasonString = description
        return MQTTPublishAcknowledgement(reasonCode: pubackReasonCode, properties: properties)
    }

    /// The error as devices see it, in a Status or a Response.
    var wire: Relay_V1_Error {
        var detail = Relay_V1_Error()
        detail.code = code.rawValue
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

extension MQTTPublishAcknowledgement {
    /// PUBACK 0x00: accepted.
    static let accepted = MQTTPublishAcknowledgement(reasonCode: .success)
}
