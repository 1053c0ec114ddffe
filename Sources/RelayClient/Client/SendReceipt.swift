/// What the relay said about a `send`.
public struct SendReceipt: Sendable, Hashable {
    /// The id the message was sent (and possibly resent) with.
    public var clientMessageID: String
    /// The conversation.
    public var conversation: String
    /// The PUBACK reason code (0, or 0x10 "no matching subscribers" on a plain broker).
    public var reasonCode: UInt8
    /// How many times the `Send` was published before the PUBACK came.
    public var attempts: Int
    /// From `Status SEQUENCED`, when it arrived within the status timeout.
    public var epoch: UInt32?
    /// From `Status SEQUENCED`, when it arrived within the status timeout.
    public var seq: UInt64?

    /// A receipt.
    public init(clientMessageID: String, conversation: String, reasonCode: UInt8, attempts: Int,
                epoch: UInt32? = nil, seq: UInt64? = nil) {
        self.clientMessageID = clientMessageID
        self.conversation = conversation
        self.reasonCode = reasonCode
        self.attempts = attempts
        self.epoch = epoch
        self.seq = seq
    }
}
