import Foundation
import RelayCore

/// Builds the envelopes a device publishes (proto/relay.proto) and names their topics.
public enum Envelopes {
    /// A `Send` (topic `s/<conversation>`).
    public static func send(clientMessageID: String, ciphertext: Data, deviceCiphertexts: [String: Data] = [:],
                            replyTo: UInt64 = 0, ttlSeconds: UInt32 = 0) -> Relay_V1_Send {
        var send = Relay_V1_Send()
        send.clientMessageID = clientMessageID
        send.ciphertext = ciphertext
        send.deviceCiphertexts = deviceCiphertexts
        send.replyToSeq = replyTo
        send.ttlSeconds = ttlSeconds
        return send
    }

    /// A `Receipt` (topic `r/<conversation>`).
    public static func receipt(epoch: UInt32, readUpTo seq: UInt64) -> Relay_V1_Receipt {
        var receipt = Relay_V1_Receipt()
        receipt.epoch = epoch
        receipt.readUpToSeq = seq
        return receipt
    }

    /// A `Typing` (topic `t/<conversation>`).
    public static func typing(_ on: Bool) -> Relay_V1_Typing {
        var typing = Relay_V1_Typing()
        typing.typing = on
        return typing
    }

    /// `s/<conversation>`
    public static func sendTopic(_ conversation: String) -> String { "s/" + conversation }
    /// `r/<conversation>`
    public static func receiptTopic(_ conversation: String) -> String { "r/" + conversation }
    /// `t/<conversation>`
    public static func typingTopic(_ conversation: String) -> String { "t/" + conversation }
    /// `q/<method>`
    public static func requestTopic(_ method: String) -> String { "q/" + method }
}
