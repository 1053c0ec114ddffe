extension Relay_V1_Status {
    /// `SEQUENCED`: the message `clientMessageID` was accepted at `position`.
    public static func sequenced(
        conversation: ConversationID,
        position: MessagePosition,
        clientMessageID: String
    ) -> Relay_V1_Status {
        var status = Relay_V1_Status()
        status.kind = .sequenced
        status.conversation = conversation.rawValue
        status.epoch = position.epoch
        status.seq = position.seq
        status.clientMessageID = clientMessageID
        return status
    }

    /// `DELIVERED`: the message at `position` reached `recipient`.
    public static func delivered(
        conversation: ConversationID,
        position: MessagePosition,
        clientMessageID: String,
        to recipient: DeviceAddress
    ) -> Relay_V1_Status {
        var status = Relay_V1_Status()
        status.kind = .delivered
        status.conversation = conversation.rawValue
        status.epoch = position.epoch
        status.seq = position.seq
        status.clientMessageID = clientMessageID
        status.user = recipient.user.rawValue
        status.device = recipient.device.rawValue
        return status
    }

    /// `READ`: `reader` read `conversation` up to `position`.
    public static func read(conversation: ConversationID, upTo position: MessagePosition, by reader: UserID) -> Relay_V1_Status {
        var status = Relay_V1_Status()
        status.kind = .read
        status.conversation = conversation.rawValue
        status.epoch = position.epoch
        status.seq = position.seq
        status.user = reader.rawValue
        return status
    }

    /// `REFUSED`: the send `clientMessageID` was not accepted, because of
    /// `refusal` (how MQTT 3.1.1 clients learn of it; 5.0 clients also get the
    /// PUBACK reason code).
    public static func refused(
        conversation: ConversationID?,
        clientMessageID: String,
        refusal: some RelayRefusal
    ) -> Relay_V1_Status {
        var status = Relay_V1_Status()
        status.kind = .refused
        status.conversation = conversation?.rawValue ?? ""
        status.clientMessageID = clientMessageID
        status.error = Relay_V1_Error(refusal)
        return status
    }
}
