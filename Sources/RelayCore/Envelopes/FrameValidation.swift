/// Checks a replication frame from another region before anything is done
/// with it: every identifier in it is a valid id and every seq one the
/// relay can hold (``Seq``). A frame that fails can never be applied, so the
/// receiver sets it aside (dead letters) instead of retrying it forever.
///
/// Bodies not named here carry nothing that is used as a key or a number
/// (or are checked where they are applied).
public enum FrameValidation {
    /// Throws ``InvalidFrame`` saying which field of `frame` is wrong.
    public static func validate(_ frame: Relay_V1_Frame) throws(InvalidFrame) {
        switch frame.body {
        case .message(let message):
            try conversation(message.conversation)
            try seq(message.seq, "message.seq")
            try optionalSeq(message.replyToSeq, "message.reply_to_seq")
            try user(message.user, "message.user")
            try device(message.device, "message.device")
            for user in message.users { try self.user(user, "message.users") }
            for device in message.deviceCiphertexts.keys { try self.device(device, "message.device_ciphertexts") }
        case .forwardedSend(let forwarded):
            // The Send itself is validated as a device's would be, where it is sequenced.
            try conversation(forwarded.conversation)
            try user(forwarded.user, "forwarded_send.user")
            try device(forwarded.device, "forwarded_send.device")
        case .entries(let entries):
            for user in entries.users { try self.user(user, "entries.users") }
            for (device, user) in entries.devices {
                try self.device(device, "entries.devices")
                try self.user(user, "entries.devices")
            }
            for device in entries.exceptDevices { try self.device(device, "entries.except_devices") }
        case .receipt(let receipt):
            try conversation(receipt.conversation)
            try user(receipt.user, "receipt.user")
            try device(receipt.device, "receipt.device")
            try seq(receipt.receipt.readUpToSeq, "receipt.read_up_to_seq")
        case .directory(let update):
            for user in update.userHomes.keys { try self.user(user, "directory.user_homes") }
            for conversation in update.conversationHomes.keys { try self.conversation(conversation) }
        case .cursor(let cursor):
            try device(cursor.device, "cursor.device")
            try conversation(cursor.conversation)
            try optionalSeq(cursor.seq, "cursor.seq")
        case .queueAck(let ack):
            try device(ack.device, "queue_ack.device")
            if !ack.user.isEmpty { try user(ack.user, "queue_ack.user") }
        case .device(let update):
            try user(update.user, "device.user")
            try device(update.device, "device.device")
        case .conversation(let state):
            try conversation(state.conversation)
            try optionalSeq(state.seq, "conversation.seq")
            for user in state.members.keys { try self.user(user, "conversation.members") }
        case .typing(let typing):
            try conversation(typing.event.conversation)
            for user in typing.users { try self.user(user, "typing.users") }
        case .presence(let presence):
            try user(presence.user, "presence.user")
        case .privacy(let update):
            try user(update.user, "privacy.user")
        case .keysRequest(let request):
            try device(request.requesterDevice, "keys_request.requester_device")
            try user(request.fetch.user, "keys_request.fetch.user")
        case .keysMirror(let mirror):
            // The keys themselves are checked as a device's upload is, where they are stored.
            try device(mirror.device, "keys_mirror.device")
        default:
            break
        }
    }

    private static func conversation(_ id: String) throws(InvalidFrame) {
        guard ConversationID(rawValue: id) != nil else { throw InvalidFrame("conversation id \(String(reflecting: id)) is not valid") }
    }

    private static func user(_ id: String, _ field: String) throws(InvalidFrame) {
        guard UserID(rawValue: id) != nil else { throw InvalidFrame("\(field): user id \(String(reflecting: id)) is not valid") }
    }

    private static func device(_ id: String, _ field: String) throws(InvalidFrame) {
        guard DeviceID(rawValue: id) != nil else { throw InvalidFrame("\(field): device id \(String(reflecting: id)) is not valid") }
    }

    private static func seq(_ value: UInt64, _ field: String) throws(InvalidFrame) {
        guard Seq(value) != nil else { throw InvalidFrame("\(field) \(value) is not 1 to \(Seq.maximum)") }
    }

    private static func optionalSeq(_ value: UInt64, _ field: String) throws(InvalidFrame) {
        guard value <= Seq.maximum else { throw InvalidFrame("\(field) \(value) is past \(Seq.maximum)") }
    }
}

/// Why a replication frame can never be applied.
public struct InvalidFrame: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field and what is wrong with it.
    public var description: String

    /// The reason `description`.
    public init(_ description: String) {
        self.description = description
    }
}
