import NIOCore
import RelayCore
import SwiftProtobuf

/// A message just stored, as offered to the pumps of the devices connected
/// to this node (``LocalPumps/offer(_:toUsers:)``): read once, and its
/// `Delivery` encoded once for every device that has no ciphertext of its
/// own, so a group message reaching hundreds of local members is encoded
/// once and every session writes the same bytes (a `ByteBuffer` shares its
/// storage). A device that asked for compact deliveries gets its own
/// encoding instead, made by its pump as it hands the delivery over
/// (``CompactSession``, docs/decisions/0030).
struct OfferedMessage: Sendable {
    /// The message as the region stored it.
    let message: Relay_V1_ReplicatedMessage
    /// What a device without its own ciphertext is delivered.
    let common: ChatStore.StoredMessage
    /// `common`'s `Delivery`, encoded.
    let payload: ByteBuffer

    init(_ message: Relay_V1_ReplicatedMessage) {
        self.message = message
        common = ChatStore.StoredMessage(
            user: message.user, device: message.device, time: message.timeMs, ciphertext: Array(message.ciphertext),
            clientMessageID: message.clientMessageID, replyTo: message.replyToSeq, epoch: message.epoch
        )
        payload = Self.encode(ChatRouter.delivery(conversation: message.conversation, seq: message.seq, stored: common))
    }

    /// What `device` is delivered, and its encoded `Delivery`: the shared
    /// one, or one of its own when the sender gave it its own ciphertext.
    func delivery(for device: String) -> (stored: ChatStore.StoredMessage, payload: ByteBuffer) {
        guard let own = message.deviceCiphertexts[device] else { return (common, payload) }
        var stored = common
        stored.ciphertext = Array(own)
        return (stored, Self.encode(ChatRouter.delivery(conversation: message.conversation, seq: message.seq, stored: stored)))
    }

    /// A `Delivery`'s bytes (empty if it does not serialize, which a
    /// message of set fields cannot fail to do).
    static func encode(_ delivery: Relay_V1_Delivery) -> ByteBuffer {
        ByteBuffer(bytes: (try? delivery.serializedBytes() as [UInt8]) ?? [])
    }
}
