/// A group's membership and rules, as a value: every operation checks who
/// may do it, changes the group, and returns the ``MembershipEvent``s to send.
///
/// Rules (docs/protocol.md, "Requests"):
/// - The creator is the first member and the first admin.
/// - Only admins add, remove, grant or revoke admin, or change settings.
/// - Anyone may leave. When the last admin leaves or is removed, the oldest
///   remaining member (earliest joined) becomes admin, by the relay's hand
///   (an ``MembershipEvent/Change/adminGranted`` event with no actor).
/// - An admin cannot revoke the last admin: a group with members always has one.
/// - At most ``MembershipLimits/maximumGroupMembers`` members.
/// - Operations that change nothing (adding a member again, removing a
///   non-member) succeed with no event, so a retried request is harmless.
public struct Group: Hashable, Sendable {
    /// The group's conversation id.
    public let id: ConversationID
    /// The members, oldest (earliest joined) first.
    public private(set) var members: [UserID]
    /// The admins; always members.
    public private(set) var admins: Set<UserID>
    /// Disappearing-message timer in seconds; 0 is off.
    public private(set) var ttlSeconds: UInt32

    /// A group as stored. Admins that are not members are dropped, duplicate
    /// members kept once, and a group with members but no admin gets its
    /// oldest member as admin.
    public init(id: ConversationID, members: [UserID], admins: Set<UserID>, ttlSeconds: UInt32 = 0) throws(GroupError) {
        guard id.isGroup else { throw .notAGroup }
        var seen = Set<UserID>()
        self.id = id
        self.members = members.filter { seen.insert($0).inserted }
        self.admins = admins.intersection(seen)
        self.ttlSeconds = ttlSeconds
        _ = promoteOldestIfNoAdmin()
    }

    /// Creates group `id` with `creator` as admin and first member, then
    /// `members` in order.
    public static func create(
        id: ConversationID,
        creator: UserID,
        members: [UserID],
        limits: MembershipLimits = MembershipLimits()
    ) throws(GroupError) -> (group: Group, event: MembershipEvent) {
        guard id.isGroup else { throw .notAGroup }
        var seen: Set<UserID> = [creator]
        let all = [creator] + members.filter { seen.insert($0).inserted }
        guard all.count <= limits.maximumGroupMembers else {
            throw .groupFull(wouldHave: all.count, limit: limits.maximumGroupMembers)
        }
        let group = try Group(id: id, members: all, admins: [creator])
        let event = MembershipEvent(conversation: id, change: .created, actor: creator, users: all, recipients: all)
        return (group, event)
    }

    /// True when `user` is a member.
    public func isMember(_ user: UserID) -> Bool { members.contains(user) }

    /// True when `user` is an admin.
    public func isAdmin(_ user: UserID) -> Bool { admins.contains(user) }

    /// The admins in member order (oldest first).
    public var orderedAdmins: [UserID] { members.filter { admins.contains($0) } }

    /// `actor` (an admin) adds `users`; those already members are ignored.
    /// All or nothing: refused if the group would exceed its limit.
    public mutating func add(
        _ users: [UserID],
        by actor: UserID,
        limits: MembershipLimits = MembershipLimits()
    ) throws(GroupError) -> MembershipEvent? {
        try requireAdmin(actor)
        var seen = Set(members)
        let added = users.filter { seen.insert($0).inserted }
        guard !added.isEmpty else { return nil }
        let wouldHave = members.count + added.count
        guard wouldHave <= limits.maximumGroupMembers else {
            throw .groupFull(wouldHave: wouldHave, limit: limits.maximumGroupMembers)
        }
        members += added
        return MembershipEvent(conversation: id, change: .added, actor: actor, users: added, recipients: members)
    }

    /// `actor` (an admin) removes `users`; non-members are ignored. The removed
    /// users are told too. If no admin is left, the oldest member is promoted
    /// (a second event).
    public mutating func remove(_ users: [UserID], by actor: UserID) throws(GroupError) -> [MembershipEvent] {
        try requireAdmin(actor)
        let targets = Set(users)
        let removed = members.filter { targets.contains($0) }
        guard !removed.isEmpty else { return [] }
        let before = members
        members.removeAll { targets.contains($0) }
        admins.subtract(targets)
        var events = [MembershipEvent(conversation: id, change: .removed, actor: actor, users: removed, recipients: before)]
        if let promotion = promoteOldestIfNoAdmin() { events.append(promotion) }
        return events
    }

    /// `user` leaves. The remaining members and the leaver are told; if the
    /// leaver was the last admin, the oldest remaining member is promoted
    /// (a second event). The group may be left empty (see ``isEmpty``).
    public mutating func leave(_ user: UserID) throws(GroupError) -> [MembershipEvent] {
        guard isMember(user) else { throw .actorNotMember }
        let before = members
        members.removeAll { $0 == user }
        admins.remove(user)
        var events = [MembershipEvent(conversation: id, change: .left, actor: user, users: [user], recipients: before)]
        if let promotion = promoteOldestIfNoAdmin() { events.append(promotion) }
        return events
    }

    /// `actor` (an admin) makes `users` admins; those already admins are ignored.
    public mutating func grantAdmin(_ users: [UserID], by actor: UserID) throws(GroupError) -> MembershipEvent? {
        try requireAdmin(actor)
        for user in users where !isMember(user) { throw .targetNotMember(user) }
        var seen = Set<UserID>()
        let granted = users.filter { !admins.contains($0) && seen.insert($0).inserted }
        guard !granted.isEmpty else { return nil }
        admins.formUnion(granted)
        return MembershipEvent(conversation: id, change: .adminGranted, actor: actor, users: granted, recipients: members)
    }

    /// `actor` (an admin) takes admin from `users`; non-admins are ignored.
    /// Refused if no admin would be left.
    public mutating func revokeAdmin(_ users: [UserID], by actor: UserID) throws(GroupError) -> MembershipEvent? {
        try requireAdmin(actor)
        for user in users where !isMember(user) { throw .targetNotMember(user) }
        let targets = Set(users)
        let revoked = orderedAdmins.filter { targets.contains($0) }
        guard !revoked.isEmpty else { return nil }
        guard revoked.count < admins.count else { throw .wouldLeaveNoAdmin }
        admins.subtract(revoked)
        return MembershipEvent(conversation: id, change: .adminRevoked, actor: actor, users: revoked, recipients: members)
    }

    /// `actor` (an admin) makes the admins exactly `users` (the `group.admins`
    /// request): the grants, then the revocations, each an event if any.
    public mutating func setAdmins(_ users: [UserID], by actor: UserID) throws(GroupError) -> [MembershipEvent] {
        try requireAdmin(actor)
        for user in users where !isMember(user) { throw .targetNotMember(user) }
        let wanted = Set(users)
        guard !wanted.isEmpty else { throw .wouldLeaveNoAdmin }
        var copy = self
        var events: [MembershipEvent] = []
        if let granted = try copy.grantAdmin(members.filter { wanted.contains($0) }, by: actor) {
            events.append(granted)
        }
        if let revoked = try copy.revokeAdmin(members.filter { !wanted.contains($0) }, by: actor) {
            events.append(revoked)
        }
        self = copy
        return events
    }

    /// `actor` (an admin) sets the disappearing-message timer (0: off).
    public mutating func setTTL(_ seconds: UInt32, by actor: UserID) throws(GroupError) -> MembershipEvent? {
        try requireAdmin(actor)
        guard seconds != ttlSeconds else { return nil }
        ttlSeconds = seconds
        return MembershipEvent(conversation: id, change: .settingsChanged, actor: actor, users: [], recipients: members)
    }

    /// True when everyone has left: the store may delete the group.
    public var isEmpty: Bool { members.isEmpty }

    /// The `GroupInfo` answer for this group under conversation `epoch`.
    public func info(epoch: UInt32) -> Relay_V1_GroupInfo {
        var info = Relay_V1_GroupInfo()
        info.conversation = id.rawValue
        info.members = members.map(\.rawValue)
        info.admins = orderedAdmins.map(\.rawValue)
        info.epoch = epoch
        info.ttlSeconds = ttlSeconds
        return info
    }

    private func requireAdmin(_ actor: UserID) throws(GroupError) {
        guard isMember(actor) else { throw .actorNotMember }
        guard isAdmin(actor) else { throw .actorNotAdmin }
    }

    private mutating func promoteOldestIfNoAdmin() -> MembershipEvent? {
        guard admins.isEmpty, let oldest = members.first else { return nil }
        admins.insert(oldest)
        return MembershipEvent(conversation: id, change: .adminGranted, actor: nil, users: [oldest], recipients: members)
    }
}
