import Testing

@testable import RelayCore

@Suite struct FrameScheduleTests {
    func message(_ conversation: String) -> Relay_V1_Frame {
        var frame = Relay_V1_Frame()
        frame.message.conversation = conversation
        return frame
    }

    func ack(_ user: String) -> Relay_V1_Frame {
        var frame = Relay_V1_Frame()
        frame.queueAck.device = "d1"
        frame.queueAck.user = user
        return frame
    }

    @Test func framesOfOneConversationOrUserKeepTheLinkOrder() {
        var cursor = Relay_V1_Frame()
        cursor.cursor.conversation = "a~b"
        var entries = Relay_V1_Frame()
        entries.entries.users = ["bob"]
        entries.entries.devices = ["d9": "carol"]
        #expect(message("a~b").ordering == .lanes([.conversation("a~b")]))
        #expect(cursor.ordering == .lanes([.conversation("a~b")]))
        #expect(entries.ordering == .lanes([.user("bob"), .user("carol")]))
        #expect(ack("bob").ordering == .lanes([.user("bob")]))
    }

    @Test func framesThatChangeWhatOthersReadAreBarriers() {
        var directory = Relay_V1_Frame()
        directory.directory.userHomes = ["bob": "us-east"]
        var device = Relay_V1_Frame()
        device.device.user = "bob"
        var region = Relay_V1_Frame()
        region.region.region = "us-east"
        #expect(directory.ordering == .barrier)
        #expect(device.ordering == .barrier)
        #expect(region.ordering == .barrier)
        #expect(Relay_V1_Frame().ordering == .barrier)
        // An acknowledgement from a sender that did not name the user.
        #expect(ack("").ordering == .barrier)
        var typing = Relay_V1_Frame()
        typing.typing.users = ["bob"]
        #expect(typing.ordering == .free)
    }

    @Test func differentLanesGoSideBySideAndOneLaneInOrder() {
        let schedule = FrameSchedule([message("x").ordering, message("y").ordering, message("x").ordering, ack("bob").ordering])
        #expect(schedule.waitsFor == [[], [], [0], []])
    }

    @Test func aFrameOfTwoLanesWaitsForBoth() {
        let both = FrameOrdering.lanes([.user("bob"), .user("carol")])
        let schedule = FrameSchedule([.lanes([.user("bob")]), .lanes([.user("carol")]), both, .lanes([.user("carol")])])
        #expect(schedule.waitsFor == [[], [], [0, 1], [2]])
    }

    @Test func aBarrierWaitsForEveryTipAndEverythingAfterWaitsForIt() {
        let x = FrameOrdering.lanes([.conversation("x")])
        let y = FrameOrdering.lanes([.conversation("y")])
        let schedule = FrameSchedule([x, y, x, .free, .barrier, y, .free, .barrier, .barrier, x])
        #expect(schedule.waitsFor == [[], [], [0], [], [1, 2, 3], [4], [4], [5, 6], [7], [8]])
    }

    @Test func freeFramesWaitOnlyForTheLastBarrier() {
        let schedule = FrameSchedule([.free, .lanes([.conversation("x")]), .free])
        #expect(schedule.waitsFor == [[], [], []])
    }
}
