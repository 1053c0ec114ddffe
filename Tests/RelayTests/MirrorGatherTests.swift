import Foundation
import RelayCore
import Testing

@testable import RelayChat

/// Queue mirror frames held for the gather window: what cancels out never
/// travels, everything else goes in order (decision 0033).
@Suite struct MirrorGatherTests {
    func entries(_ entries: [String], devices: [String: String], term: UInt32 = 1) -> Relay_V1_Frame {
        var frame = Relay_V1_Frame()
        frame.term = term
        var body = Relay_V1_ReplicatedEntries()
        body.devices = devices
        body.entries = entries.map { Data($0.utf8) }
        frame.entries = body
        return frame
    }

    func ack(_ entry: String, device: String, term: UInt32 = 1) -> Relay_V1_Frame {
        var frame = Relay_V1_Frame()
        frame.term = term
        var body = Relay_V1_QueueAck()
        body.device = device
        body.user = "alice"
        body.entry = Data(entry.utf8)
        frame.queueAck = body
        return frame
    }

    func cursor(_ seq: UInt64, device: String = "a1", conversation: String = "alice~bob") -> Relay_V1_Frame {
        var frame = Relay_V1_Frame()
        frame.term = 1
        var body = Relay_V1_CursorUpdate()
        body.device = device
        body.conversation = conversation
        body.seq = seq
        frame.cursor = body
        return frame
    }

    @Test func aStatusAcknowledgedWithinTheWindowNeverTravels() {
        var gather = MirrorGather()
        let first = gather.add([entries(["s|1"], devices: ["a1": "alice"])], for: "eu-west")
        #expect(first)
        let second = gather.add([ack("s|1", device: "a1")], for: "eu-west")
        #expect(!second)
        let taken = gather.take("eu-west")
        #expect(taken.isEmpty)
        let more = gather.shipped("eu-west")
        #expect(!more)
    }

    @Test func onlyTheAcknowledgingDeviceLeavesAStatusForSeveral() throws {
        var gather = MirrorGather()
        _ = gather.add([entries(["s|1"], devices: ["a1": "alice", "a2": "alice"])], for: "eu-west")
        _ = gather.add([ack("s|1", device: "a1")], for: "eu-west")
        let frames = gather.take("eu-west")
        #expect(frames.count == 1)
        #expect(frames.first?.entries.devices == ["a2": "alice"])
    }

    @Test func oneEntryLeavesAFrameOfSeveralForOneDevice() {
        var gather = MirrorGather()
        _ = gather.add([entries(["s|1", "s|2"], devices: ["a1": "alice"])], for: "eu-west")
        _ = gather.add([ack("s|1", device: "a1")], for: "eu-west")
        let frames = gather.take("eu-west")
        #expect(frames.map { $0.entries.entries } == [[Data("s|2".utf8)]])
    }

    @Test func aFrameOfSeveralEntriesForSeveralDevicesKeepsTheAcknowledgement() {
        var gather = MirrorGather()
        _ = gather.add([entries(["s|1", "s|2"], devices: ["a1": "alice", "a2": "alice"])], for: "eu-west")
        _ = gather.add([ack("s|1", device: "a1")], for: "eu-west")
        let frames = gather.take("eu-west")
        #expect(frames.count == 2)
        #expect(frames.last?.queueAck.device == "a1")
        #expect(frames.first?.entries.entries.count == 2)
    }

    @Test func anAcknowledgementOfWhatWasShippedBeforeTravels() {
        var gather = MirrorGather()
        _ = gather.add([entries(["s|1"], devices: ["a1": "alice"])], for: "eu-west")
        _ = gather.take("eu-west")
        _ = gather.add([ack("s|1", device: "a1")], for: "eu-west")
        // Another device's, or another entry's, acknowledgement cancels nothing either.
        _ = gather.add([entries(["s|2"], devices: ["a1": "alice"])], for: "eu-west")
        _ = gather.add([ack("s|2", device: "a9"), ack("s|3", device: "a1")], for: "eu-west")
        let kinds = gather.take("eu-west").map(\.kindName)
        #expect(kinds == ["queue_ack", "entries", "queue_ack", "queue_ack"])
    }

    @Test func framesOfAnotherTermAreNotCancelled() {
        var gather = MirrorGather()
        _ = gather.add([entries(["s|1"], devices: ["a1": "alice"], term: 1)], for: "eu-west")
        _ = gather.add([ack("s|1", device: "a1", term: 2)], for: "eu-west")
        let taken = gather.take("eu-west")
        #expect(taken.count == 2)
    }

    @Test func aLaterCursorReplacesTheHeldOneInPlace() {
        var gather = MirrorGather()
        _ = gather.add([cursor(3), cursor(1, conversation: "alice~carol")], for: "eu-west")
        _ = gather.add([cursor(5), cursor(4)], for: "eu-west")
        let frames = gather.take("eu-west")
        #expect(frames.map(\.cursor.conversation) == ["alice~bob", "alice~carol"])
        #expect(frames.map(\.cursor.seq) == [5, 1])
    }

    @Test func oneFlushAtATimePerTargetAndAFailedOneKeepsTheOrder() {
        var gather = MirrorGather()
        let first = gather.add([cursor(1)], for: "eu-west")
        #expect(first)
        let other = gather.add([cursor(1)], for: "ap-south")
        #expect(other)  // another target flushes on its own
        let taken = gather.take("eu-west")
        let during = gather.add([cursor(1, conversation: "alice~carol")], for: "eu-west")
        #expect(!during)  // in flight: no second flush
        gather.failed(taken, for: "eu-west")
        let again = gather.take("eu-west")
        #expect(again.map(\.cursor.conversation) == ["alice~bob", "alice~carol"])
        let more = gather.shipped("eu-west")
        #expect(!more)
        let next = gather.add([cursor(2)], for: "eu-west")
        #expect(next)  // the flush ended: the next add schedules one
    }

    @Test func onlyQueueFramesForSingleDevicesAreGathered() {
        #expect(MirrorGather.gathers(entries(["s|1"], devices: ["a1": "alice"])))
        #expect(MirrorGather.gathers(ack("s|1", device: "a1")))
        #expect(MirrorGather.gathers(cursor(1)))
        var users = entries(["s|1"], devices: [:])
        users.entries.users = ["alice"]
        #expect(!MirrorGather.gathers(users))
        var message = Relay_V1_Frame()
        message.message = Relay_V1_ReplicatedMessage()
        #expect(!MirrorGather.gathers(message))
    }
}
