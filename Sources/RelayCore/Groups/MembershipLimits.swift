/// Per-region limits on who may be in a conversation (docs/protocol.md,
/// "Limits"). Used by the group rules.
public struct MembershipLimits: Hashable, Sendable {
    /// Default most members of a group: 1,024.
    public static let defaultMaximumGroupMembers = 1024
    /// Default most devices of one user: 6.
    public static let defaultMaximumDevicesPerUser = 6

    /// The most members a group may have.
    public var maximumGroupMembers: Int
    /// The most devices one user may have.
    public var maximumDevicesPerUser: Int

    /// Limits with the documented defaults unless given.
    public init(
        maximumGroupMembers: Int = MembershipLimits.defaultMaximumGroupMembers,
        maximumDevicesPerUser: Int = MembershipLimits.defaultMaximumDevicesPerUser
    ) {
        precondition(maximumGroupMembers >= 1 && maximumDevicesPerUser >= 1, "limits must be positive")
        self.maximumGroupMembers = maximumGroupMembers
        self.maximumDevicesPerUser = maximumDevicesPerUser
    }
}
