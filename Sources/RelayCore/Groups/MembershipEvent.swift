/// A change to a group's membership, admins or settings, and who must hear
/// of it. Built by ``Group``; sent to every device of each of `recipients`.
public struct MembershipEvent: Hashable, Sendable {
    /// What changed.
    public enum Change: Hashable, Sendable, CaseIterable {
        /// The group was created with `users` as its members.
        case created
        /// `users` were added.
        case added
        /// `users` were removed by an admin.
        case removed
        /// `users` (one) left.
        case left
        /// `users` became admins.
        case adminGranted
        /// `users` are no longer admins.
        case adminRevoked
        /// The group's settings changed (disappearing-message timer).
        case settingsChanged

        /// The protobuf value.
        public var proto: Relay_V1_MembershipEvent.Change {
            switch self {
            case .created: return .created
            case .added: return .added
            case .removed: return .removed
            case .left: return .left
            case .adminGranted: return .adminGranted
            case .adminRevoked: return .adminRevoked
            case .settingsChanged: return .settingsChanged
            }
        }
    }

    /// The group.
    public var conversation: ConversationID
    /// What changed.
    public var change: Change
    /// Who did it; nil when the relay did it by rule (the oldest member
    /// promoted when the last admin leaves).
    public var actor: UserID?
    /// Whom it is about.
    public var users: [UserID]
    /// Who must be told: the members after the change, and those who were
    /// removed or left (so their other devices learn it too).
    public var recipients: [UserID]

    /// An event; ``Group`` makes these.
    public init(conversation: ConversationID, change: Change, actor: UserID?, users: [UserID], recipients: [UserID]) {
        self.conversation = conversation
        self.change = change
        self.actor = actor
        self.users = users
        self.recipients = recipients
    }

    /// The protobuf form (`actor` is empty when the relay acted).
    public var proto: Relay_V1_MembershipEvent {
        var event = Relay_V1_MembershipEvent()
        event.conversation = conversation.rawValue
        event.change = change.proto
        event.actor = actor?.rawValue ?? ""
        event.users = users.map(\.rawValue)
        return event
    }
}
