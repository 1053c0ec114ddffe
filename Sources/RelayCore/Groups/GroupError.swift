/// Why a group operation is refused.
public enum GroupError: RelayRefusal, Hashable {
    /// The conversation id is not a group id.
    case notAGroup
    /// The acting user is not a member.
    case actorNotMember
    /// The acting user is not an admin.
    case actorNotAdmin
    /// The group would have `wouldHave` members; at most `limit` are allowed.
    case groupFull(wouldHave: Int, limit: Int)
    /// `user`, named as a target, is not a member.
    case targetNotMember(UserID)
    /// The change would leave a group with members but no admin.
    case wouldLeaveNoAdmin

    /// `bad_request`, `not_member`, `not_admin` or `group_full`.
    public var code: ErrorCode {
        switch self {
        case .notAGroup, .targetNotMember, .wouldLeaveNoAdmin: return .badRequest
        case .actorNotMember: return .notMember
        case .actorNotAdmin: return .notAdmin
        case .groupFull: return .groupFull
        }
    }

    /// 0x87 Not authorized for a non-member or non-admin, 0x97 Quota exceeded
    /// for a full group, 0x83 Implementation specific error otherwise.
    public var reasonCode: UInt8 {
        switch self {
        case .actorNotMember, .actorNotAdmin: return RefusalReasonCode.notAuthorized
        case .groupFull: return RefusalReasonCode.quotaExceeded
        case .notAGroup, .targetNotMember, .wouldLeaveNoAdmin: return RefusalReasonCode.implementationSpecificError
        }
    }

    /// A one-line explanation.
    public var message: String {
        switch self {
        case .notAGroup: return "not a group conversation"
        case .actorNotMember: return "not a member of this group"
        case .actorNotAdmin: return "only a group admin may do this"
        case .groupFull(let wouldHave, let limit): return "group would have \(wouldHave) members; at most \(limit) allowed"
        case .targetNotMember(let user): return "\(user) is not a member of this group"
        case .wouldLeaveNoAdmin: return "a group must keep at least one admin"
        }
    }
}
