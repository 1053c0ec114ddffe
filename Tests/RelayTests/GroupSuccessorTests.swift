@testable import RelayChat
import Testing

/// The admin successor comes from RelayCore's `Group` rule: the earliest
/// joined remaining member, only when the last admin leaves.
@Suite struct GroupSuccessorTests {
    let group = "g0123456789abcdef"

    @Test func theEarliestJoinedMemberSucceedsTheLastAdmin() {
        let members = ["zed": "admin", "bob": "member", "amy": "member"]
        // zed created the group with bob then amy: bob joined first, though amy sorts first.
        #expect(ChatRouter.successor(of: "zed", in: group, members: members, joinOrder: ["zed", "bob", "amy"]) == "bob")
        #expect(ChatRouter.successor(of: "zed", in: group, members: members, joinOrder: ["zed", "amy", "bob"]) == "amy")
    }

    @Test func nobodyIsPromotedWhileAnotherAdminStaysOrAMemberLeaves() {
        let members = ["zed": "admin", "bob": "admin", "amy": "member"]
        #expect(ChatRouter.successor(of: "zed", in: group, members: members, joinOrder: ["zed", "amy", "bob"]).isEmpty)
        #expect(ChatRouter.successor(of: "amy", in: group, members: ["zed": "admin", "amy": "member"], joinOrder: ["zed", "amy"]).isEmpty)
        // The last member leaving: nobody is left to promote.
        #expect(ChatRouter.successor(of: "zed", in: group, members: ["zed": "admin"], joinOrder: ["zed"]).isEmpty)
    }

    @Test func membersWithoutARankComeAfterByName() {
        // A group made before the join order was kept: no ranks at all.
        #expect(ChatRouter.successor(of: "zed", in: group, members: ["zed": "admin", "cat": "member", "bea": "member"], joinOrder: []) == "bea")
        // Ranked members first.
        #expect(ChatRouter.successor(of: "zed", in: group, members: ["zed": "admin", "cat": "member", "bea": "member"], joinOrder: ["cat"]) == "cat")
        // Invalid input promotes nobody rather than trapping.
        #expect(ChatRouter.successor(of: "zed", in: "not-a-group", members: ["zed": "admin", "cat": "member"], joinOrder: []).isEmpty)
    }
}
