extension Relay_V1_Frame {
    /// The name of the frame's body as `replication.proto` spells its field
    /// (`message`, `queue_ack`, ...), "empty" for a frame without one: the
    /// `kind` label of the per-link frame counters.
    public var kindName: String {
        switch body {
        case .message: "message"
        case .forwardedSend: "forwarded_send"
        case .entries: "entries"
        case .receipt: "receipt"
        case .directory: "directory"
        case .cursor: "cursor"
        case .queueAck: "queue_ack"
        case .device: "device"
        case .conversation: "conversation"
        case .region: "region"
        case .typing: "typing"
        case .presence: "presence"
        case .privacy: "privacy"
        case .keysRequest: "keys_request"
        case .keysAnswer: "keys_answer"
        case .keysMirror: "keys_mirror"
        case .pushRegistration: "push_registration"
        case nil: "empty"
        }
    }
}
