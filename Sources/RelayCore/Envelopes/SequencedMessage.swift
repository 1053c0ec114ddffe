#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A message as the conversation log holds it once sequenced: everything a
/// `Delivery` carries except the ciphertext, which depends on the device.
public struct SequencedMessage: Hashable, Sendable {
    /// The conversation.
    public var conversation: ConversationID
    /// Its `(epoch, seq)`.
    public var position: MessagePosition
    /// The sending user and device.
    public var sender: DeviceAddress
    /// When the home region sequenced it, ms since the Unix epoch.
    public var serverTimeMilliseconds: Int64
    /// The sender's id for it.
    public var clientMessageID: String
    /// The seq it answers; 0 for none.
    public var replyToSeq: UInt64

    /// A sequenced message.
    public init(
        conversation: ConversationID,
        position: MessagePosition,
        sender: DeviceAddress,
        serverTimeMilliseconds: Int64,
        clientMessageID: String,
        replyToSeq: UInt64 = 0
    ) {
        self.conversation = conversation
        self.position = position
        self.sender = sender
        self.serverTimeMilliseconds = serverTimeMilliseconds
        self.clientMessageID = clientMessageID
        self.replyToSeq = replyToSeq
    }
}

extension Relay_V1_Delivery {
    /// The `Delivery` of `message` carrying `ciphertext` (the device's own or
    /// the shared one, see ``PlannedDelivery``).
    public init(_ message: SequencedMessage, ciphertext: Data) {
        self.init()
        conversation = message.conversation.rawValue
        epoch = message.position.epoch
        seq = message.position.seq
        fromUser = message.sender.user.rawValue
        fromDevice = message.sender.device.rawValue
        serverTimeMs = message.serverTimeMilliseconds
        self.ciphertext = ciphertext
        clientMessageID = message.clientMessageID
        replyToSeq = message.replyToSeq
    }

    /// A membership event sequenced into the group's log at `position`
    /// (empty ciphertext, sender the actor when there is one).
    public init(membership event: MembershipEvent, position: MessagePosition, serverTimeMilliseconds: Int64) {
        self.init()
        conversation = event.conversation.rawValue
        epoch = position.epoch
        seq = position.seq
        fromUser = event.actor?.rawValue ?? ""
        serverTimeMs = serverTimeMilliseconds
        membership = event.proto
    }
}
