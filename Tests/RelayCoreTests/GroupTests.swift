import Testing

@testable import RelayCore

@Suite struct GroupTests {
    let id = group("gteam")
    let ann = user("ann")
    let bob = user("bob")
    let cat = user("cat")
    let dan = user("dan")

    func created(members: [UserID]) throws -> Group {
        try Group.create(id: id, creator: ann, members: members).group
    }

    @Test func creatorBecomesAdminAndFirstMember() throws {
        let (group, event) = try Group.create(id: id, creator: ann, members: [bob, ann, cat, bob])
        #expect(group.members == [ann, bob, cat])
        #expect(group.admins == [ann])
        #expect(event.change == .created)
        #expect(event.actor == ann)
        #expect(event.users == [ann, bob, cat])
        #expect(event.recipients == [ann, bob, cat])
        #expect(event.proto.change == .created)
        #expect(event.proto.users == ["ann", "bob", "cat"])
        #expect(event.proto.conversation == "gteam")
    }

    @Test func onlyGroupIDs() {
        #expect(throws: GroupError.notAGroup) {
            try Group.create(id: .direct(user("ann"), user("bob")), creator: user("ann"), members: [])
        }
    }

    @Test func onlyAdminsAdd() throws {
        var group = try created(members: [bob])
        #expect(throws: GroupError.actorNotAdmin) { try group.add([cat], by: bob) }
        #expect(throws: GroupError.actorNotMember) { try group.add([cat], by: dan) }
        let event = try #require(try group.add([cat, bob, cat], by: ann))
        #expect(event.change == .added)
        #expect(event.users == [cat])
        #expect(event.recipients == [ann, bob, cat])
        #expect(group.members == [ann, bob, cat])
        #expect(try group.add([cat], by: ann) == nil)
        #expect(GroupError.actorNotAdmin.code == .notAdmin)
        #expect(GroupError.actorNotAdmin.reasonCode == 0x87)
    }

    @Test func groupLimitIsAllOrNothing() throws {
        let limits = MembershipLimits(maximumGroupMembers: 3)
        var group = try Group.create(id: id, creator: ann, members: [bob], limits: limits).group
        #expect(throws: GroupError.groupFull(wouldHave: 4, limit: 3)) { try group.add([cat, dan], by: ann, limits: limits) }
        #expect(group.members == [ann, bob])
        #expect(try group.add([cat], by: ann, limits: limits) != nil)
        #expect(throws: GroupError.groupFull(wouldHave: 4, limit: 3)) {
            try Group.create(id: id, creator: ann, members: [bob, cat, dan], limits: limits)
        }
        let many = (0..<1023).map { user("m\($0)") }
        #expect(try Group.create(id: id, creator: ann, members: many).group.members.count == 1024)
        #expect(throws: GroupError.groupFull(wouldHave: 1025, limit: 1024)) {
            try Group.create(id: id, creator: ann, members: many + [bob])
        }
        #expect(GroupError.groupFull(wouldHave: 1, limit: 1).code == .groupFull)
    }

    @Test func removeTellsTheRemovedToo() throws {
        var group = try created(members: [bob, cat])
        #expect(throws: GroupError.actorNotAdmin) { try group.remove([cat], by: bob) }
        let events = try group.remove([cat, dan], by: ann)
        #expect(events.count == 1)
        #expect(events[0].change == .removed)
        #expect(events[0].users == [cat])
        #expect(events[0].recipients == [ann, bob, cat])
        #expect(group.members == [ann, bob])
        #expect(try group.remove([cat], by: ann).isEmpty)
    }

    @Test func lastAdminLeavingPromotesTheOldestMember() throws {
        var group = try created(members: [bob, cat])
        let events = try group.leave(ann)
        #expect(events.map(\.change) == [.left, .adminGranted])
        #expect(events[0].recipients == [ann, bob, cat])
        #expect(events[0].users == [ann])
        #expect(events[1].actor == nil)
        #expect(events[1].proto.actor == "")
        #expect(events[1].users == [bob])
        #expect(events[1].recipients == [bob, cat])
        #expect(group.admins == [bob])
        #expect(group.members == [bob, cat])
    }

    @Test func oldestMeansEarliestJoinedNotAlphabetical() throws {
        var group = try Group.create(id: id, creator: ann, members: [dan]).group
        _ = try group.add([bob], by: ann)
        _ = try group.leave(ann)
        #expect(group.admins == [dan])
    }

    @Test func leavingWithAnotherAdminLeftPromotesNoOne() throws {
        var group = try created(members: [bob, cat])
        _ = try group.grantAdmin([cat], by: ann)
        let events = try group.leave(ann)
        #expect(events.map(\.change) == [.left])
        #expect(group.admins == [cat])
    }

    @Test func lastMemberLeavingEmptiesTheGroup() throws {
        var group = try created(members: [])
        let events = try group.leave(ann)
        #expect(events.map(\.change) == [.left])
        #expect(events[0].recipients == [ann])
        #expect(group.isEmpty)
        #expect(throws: GroupError.actorNotMember) { try group.leave(ann) }
    }

    @Test func adminRemovingThemselvesAlsoPromotes() throws {
        var group = try created(members: [bob])
        let events = try group.remove([ann], by: ann)
        #expect(events.map(\.change) == [.removed, .adminGranted])
        #expect(group.admins == [bob])
    }

    @Test func grantAndRevoke() throws {
        var group = try created(members: [bob, cat])
        #expect(throws: GroupError.actorNotAdmin) { try group.grantAdmin([cat], by: bob) }
        #expect(throws: GroupError.targetNotMember(dan)) { try group.grantAdmin([dan], by: ann) }
        let granted = try #require(try group.grantAdmin([cat, ann], by: ann))
        #expect(granted.change == .adminGranted)
        #expect(granted.users == [cat])
        #expect(granted.recipients == [ann, bob, cat])
        #expect(try group.grantAdmin([cat], by: ann) == nil)
        let revoked = try #require(try group.revokeAdmin([ann], by: cat))
        #expect(revoked.change == .adminRevoked)
        #expect(group.admins == [cat])
        #expect(throws: GroupError.wouldLeaveNoAdmin) { try group.revokeAdmin([cat], by: cat) }
        #expect(try group.revokeAdmin([bob], by: cat) == nil)
    }

    @Test func setAdminsGrantsThenRevokes() throws {
        var group = try created(members: [bob, cat])
        let events = try group.setAdmins([bob, cat], by: ann)
        #expect(events.map(\.change) == [.adminGranted, .adminRevoked])
        #expect(events[0].users == [bob, cat])
        #expect(events[1].users == [ann])
        #expect(group.orderedAdmins == [bob, cat])
        #expect(throws: GroupError.wouldLeaveNoAdmin) { try group.setAdmins([], by: bob) }
        #expect(throws: GroupError.targetNotMember(dan)) { try group.setAdmins([dan], by: bob) }
        #expect(group.orderedAdmins == [bob, cat])
    }

    @Test func settingsChangeIsAnAdminsCall() throws {
        var group = try created(members: [bob])
        #expect(throws: GroupError.actorNotAdmin) { try group.setTTL(60, by: bob) }
        let event = try #require(try group.setTTL(60, by: ann))
        #expect(event.change == .settingsChanged)
        #expect(event.recipients == [ann, bob])
        #expect(try group.setTTL(60, by: ann) == nil)
        let info = group.info(epoch: 3)
        #expect(info.ttlSeconds == 60 && info.epoch == 3)
        #expect(info.members == ["ann", "bob"] && info.admins == ["ann"])
    }

    @Test func restoringNormalisesStoredState() throws {
        let group = try Group(id: id, members: [bob, cat, bob], admins: [dan])
        #expect(group.members == [bob, cat])
        #expect(group.admins == [bob])
    }

    @Test func everyChangeMapsToProto() {
        let expected: [Relay_V1_MembershipEvent.Change] = [
            .created, .added, .removed, .left, .adminGranted, .adminRevoked, .settingsChanged,
        ]
        #expect(MembershipEvent.Change.allCases.map(\.proto) == expected)
    }
}
