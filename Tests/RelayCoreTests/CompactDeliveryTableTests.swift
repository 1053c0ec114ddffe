import Foundation
import SwiftProtobuf
import Testing

@testable import RelayCore

/// A full delivery as the relay builds it.
func fullDelivery(
    _ conversation: String, seq: UInt64, from user: String, device: String, epoch: UInt32 = 1,
    clientMessageID: String = "m-0123456789abcd", ciphertext: [UInt8] = Array(repeating: 0x2E, count: 64)
) -> Relay_V1_Delivery {
    var d = Relay_V1_Delivery()
    d.conversation = conversation
    d.epoch = epoch
    d.seq = seq
    d.fromUser = user
    d.fromDevice = device
    d.serverTimeMs = 1_765_000_000_000 + Int64(seq)
    d.ciphertext = Data(ciphertext)
    d.clientMessageID = clientMessageID
    return d
}

@Suite struct CompactDeliveryTableTests {
    @Test func firstDeliveryDefinesRefsAndLaterOnesCarryOnlyThem() throws {
        var table = CompactDeliveryTable()
        let first = try table.compacted(fullDelivery("alice~bob", seq: 1, from: "alice", device: "alice-phone"), recipientUser: "bob")
        #expect(first.refsGeneration == 1)
        #expect((first.conversation, first.conversationRef, first.epoch) == ("alice~bob", 1, 1))
        #expect((first.fromUser, first.fromDevice, first.senderRef) == ("alice", "alice-phone", 1))
        #expect(first.clientMessageID.isEmpty)  // another user's: left out
        #expect((first.seq, first.serverTimeMs, first.ciphertext.count) == (1, 1_765_000_000_001, 64))

        let second = try table.compacted(fullDelivery("alice~bob", seq: 2, from: "alice", device: "alice-phone"), recipientUser: "bob")
        #expect(second.refsGeneration == 0)
        #expect((second.conversation, second.conversationRef, second.epoch) == ("", 1, 0))
        #expect((second.fromUser, second.fromDevice, second.senderRef) == ("", "", 1))
        #expect(second.seq == 2)

        // A new sender in the same conversation gets the next sender ref; a new conversation the next conversation ref.
        let third = try table.compacted(fullDelivery("alice~bob", seq: 3, from: "alice", device: "alice-laptop"), recipientUser: "bob")
        #expect((third.conversationRef, third.senderRef, third.fromDevice) == (1, 2, "alice-laptop"))
        let fourth = try table.compacted(fullDelivery("bob~carol", seq: 1, from: "carol", device: "carol-phone"), recipientUser: "bob")
        #expect((fourth.conversation, fourth.conversationRef, fourth.senderRef) == ("bob~carol", 2, 3))
        #expect(table.outstanding == 4)
    }

    @Test func theCompactFormIsSmallForAOneToOneMessage() throws {
        // The wire benchmark's shapes: 23-character conversation, 13-character devices, 16-character client message id.
        var table = CompactDeliveryTable()
        let conversation = "w1a2b3c4d5e6f0a~w1a2b3c"
        _ = table.compact(fullDelivery(conversation, seq: 1, from: "w1a2b3c4d5e6f", device: "w1a2b3c4d5-d"), recipientUser: "w1a2b3c")
        let full = fullDelivery(conversation, seq: 100, from: "w1a2b3c4d5e6f", device: "w1a2b3c4d5-d")
        let compact = try table.compacted(full, recipientUser: "w1a2b3c")
        let fullBytes: [UInt8] = try full.serializedBytes()
        let compactBytes: [UInt8] = try compact.serializedBytes()
        // Everything but the 64 ciphertext bytes: ciphertext tag and length (2), seq (2), time (7), two refs (4).
        #expect(compactBytes.count - 64 == 15)
        #expect(fullBytes.count - compactBytes.count > 60)
    }

    @Test func keepsTheClientMessageIDForTheSendersOwnUser() throws {
        var table = CompactDeliveryTable()
        let note = try table.compacted(fullDelivery("alice~alice", seq: 1, from: "alice", device: "alice-phone"), recipientUser: "alice")
        #expect(note.clientMessageID == "m-0123456789abcd")
    }

    @Test func sendsTheEpochAgainWhenItChanges() throws {
        var table = CompactDeliveryTable()
        _ = table.compact(fullDelivery("alice~bob", seq: 7, from: "alice", device: "alice-phone"), recipientUser: "bob")
        let next = try table.compacted(fullDelivery("alice~bob", seq: 5, from: "alice", device: "alice-phone", epoch: 2), recipientUser: "bob")
        #expect((next.conversation, next.epoch) == ("", 2))
        let after = try table.compacted(fullDelivery("alice~bob", seq: 6, from: "alice", device: "alice-phone", epoch: 2), recipientUser: "bob")
        #expect(after.epoch == 0)
        #expect(table.refs(on: true).epochs == [2])
    }

    @Test func aFullTableStartsANewGenerationOnlyWhenNothingIsOutstanding() throws {
        var table = CompactDeliveryTable()
        for i in 1...CompactDeliveryTable.maximumRefs {
            _ = try table.compacted(fullDelivery("g\(i)", seq: 1, from: "alice", device: "alice-phone"), recipientUser: "bob")
        }
        #expect(table.generation == 1)
        // One more conversation while deliveries are unacknowledged: the full form, the table unchanged.
        let extra = fullDelivery("gextra", seq: 1, from: "alice", device: "alice-phone")
        let refused = table.compact(extra, recipientUser: "bob")
        #expect(refused == nil)
        #expect(table.generation == 1 && table.refs(on: true).conversations.count == CompactDeliveryTable.maximumRefs)
        // Known refs still compact meanwhile.
        let known = table.compact(fullDelivery("g3", seq: 2, from: "alice", device: "alice-phone"), recipientUser: "bob")
        #expect(known?.conversationRef == 3)
        for _ in 0...CompactDeliveryTable.maximumRefs { table.acknowledged() }
        #expect(table.outstanding == 0)
        let restarted = try table.compacted(extra, recipientUser: "bob")
        #expect((restarted.refsGeneration, restarted.conversationRef, restarted.conversation) == (2, 1, "gextra"))
        #expect((restarted.senderRef, restarted.fromUser) == (1, "alice"))
        #expect(table.refs(on: true).conversations == ["gextra"])
    }

    @Test func clearWaitsForOutstandingDeliveriesAndReleasesTheTable() throws {
        var table = CompactDeliveryTable()
        _ = table.compact(fullDelivery("alice~bob", seq: 1, from: "alice", device: "alice-phone"), recipientUser: "bob")
        let clearedEarly = table.clear()
        #expect(!clearedEarly && !table.isEmpty)
        table.acknowledged()
        let cleared = table.clear()
        #expect(cleared)
        #expect(table.isEmpty && table.refs(on: true).conversations.isEmpty && table.refs(on: true).generation == 0)
        // The next table is a new generation, and defines everything again.
        let again = try table.compacted(fullDelivery("alice~bob", seq: 2, from: "alice", device: "alice-phone"), recipientUser: "bob")
        #expect((again.refsGeneration, again.conversation, again.fromUser) == (2, "alice~bob", "alice"))
    }

    @Test func takeUsedReportsUseSinceTheLastCall() {
        var table = CompactDeliveryTable()
        let before = table.takeUsed()
        _ = table.compact(fullDelivery("alice~bob", seq: 1, from: "alice", device: "alice-phone"), recipientUser: "bob")
        let used = table.takeUsed()
        let again = table.takeUsed()
        #expect(!before && used && !again)
    }

    @Test func membershipDeliveriesStayFull() {
        var table = CompactDeliveryTable()
        var d = fullDelivery("g1", seq: 1, from: "alice", device: "alice-phone", ciphertext: [])
        d.membership.change = .added
        let compact = table.compact(d, recipientUser: "bob")
        #expect(compact == nil)
        #expect(table.isEmpty && table.outstanding == 0)
    }
}

extension CompactDeliveryTable {
    /// `compact(_:recipientUser:)`, failing the test when the delivery would go out full.
    mutating func compacted(_ full: Relay_V1_Delivery, recipientUser: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Relay_V1_Delivery {
        let compact = compact(full, recipientUser: recipientUser)
        return try #require(compact, sourceLocation: sourceLocation)
    }
}
