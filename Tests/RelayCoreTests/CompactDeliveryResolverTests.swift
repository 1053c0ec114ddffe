import Foundation
import Testing

@testable import RelayCore

@Suite struct CompactDeliveryResolverTests {
    /// Compacts `deliveries` with a relay table and resolves them in order with a client's.
    private func roundTrip(_ deliveries: [Relay_V1_Delivery], recipient: String) -> [CompactDeliveryResolver.Resolution] {
        var table = CompactDeliveryTable()
        var resolver = CompactDeliveryResolver()
        return deliveries.map { full in
            let wire = table.compact(full, recipientUser: recipient) ?? full
            table.acknowledged()
            return resolver.resolve(wire)
        }
    }

    @Test func resolvesWhatTheTableCompactedBackToTheFullDelivery() {
        let fulls = [
            fullDelivery("alice~bob", seq: 1, from: "alice", device: "alice-phone"),
            fullDelivery("alice~bob", seq: 2, from: "alice", device: "alice-phone"),
            fullDelivery("gteam", seq: 9, from: "carol", device: "carol-phone", epoch: 3),
            fullDelivery("alice~bob", seq: 3, from: "alice", device: "alice-laptop"),
            fullDelivery("gteam", seq: 10, from: "alice", device: "alice-phone", epoch: 4),
            fullDelivery("bob~bob", seq: 1, from: "bob", device: "bob-laptop"),
        ]
        let resolved = roundTrip(fulls, recipient: "bob")
        for (full, resolution) in zip(fulls, resolved) {
            var expected = full
            // Another user's client message id is not carried; the user's own is.
            if full.fromUser != "bob" { expected.clientMessageID = "" }
            #expect(resolution == .resolved(expected))
        }
    }

    @Test func fullDeliveriesPassUnchanged() {
        var resolver = CompactDeliveryResolver()
        let full = fullDelivery("alice~bob", seq: 4, from: "alice", device: "alice-phone")
        #expect(resolver.resolve(full) == .resolved(full))
        #expect(resolver.generation == 0)
    }

    @Test func anUnknownRefIsUnresolvedAndLeavesTheTableAsItWas() {
        var resolver = CompactDeliveryResolver()
        var defining = Relay_V1_Delivery()
        defining.refsGeneration = 1
        defining.conversationRef = 1
        defining.conversation = "alice~bob"
        defining.epoch = 1
        defining.senderRef = 1
        defining.fromUser = "alice"
        defining.fromDevice = "alice-phone"
        defining.seq = 1
        guard case .resolved = resolver.resolve(defining) else {
            Issue.record("the defining delivery did not resolve")
            return
        }
        var unknown = Relay_V1_Delivery()
        unknown.conversationRef = 2
        unknown.senderRef = 1
        unknown.seq = 5
        guard case .unresolved(let u) = resolver.resolve(unknown) else {
            Issue.record("an unknown conversation ref resolved")
            return
        }
        #expect((u.generation, u.conversationRef, u.senderRef, u.seq) == (1, 2, 1, 5))
        var unknownSender = unknown
        unknownSender.conversationRef = 1
        unknownSender.senderRef = 7
        guard case .unresolved = resolver.resolve(unknownSender) else {
            Issue.record("an unknown sender ref resolved")
            return
        }
        #expect(resolver.count == (1, 1))
    }

    @Test func malformedDefinitionsAreRefusedNotKept() {
        var resolver = CompactDeliveryResolver()
        var bad = Relay_V1_Delivery()
        bad.refsGeneration = 1
        bad.conversationRef = 1
        bad.conversation = "bob~alice"  // not sorted: not a conversation id
        bad.seq = 1
        guard case .unresolved = resolver.resolve(bad) else {
            Issue.record("a malformed conversation was taken")
            return
        }
        var badSender = Relay_V1_Delivery()
        badSender.conversationRef = 1
        badSender.conversation = "alice~bob"
        badSender.senderRef = 1
        badSender.fromUser = "alice"
        badSender.fromDevice = "alice phone"  // a space: not a device id
        guard case .unresolved = resolver.resolve(badSender) else {
            Issue.record("a malformed sender was taken")
            return
        }
        var tooHigh = Relay_V1_Delivery()
        tooHigh.conversationRef = CompactDeliveryResolver.maximumRef + 1
        tooHigh.conversation = "alice~bob"
        guard case .unresolved = resolver.resolve(tooHigh) else {
            Issue.record("a ref past the maximum was taken")
            return
        }
        #expect(resolver.count == (0, 0))
    }

    @Test func aNewGenerationForgetsTheOldRefs() {
        var resolver = CompactDeliveryResolver()
        var first = Relay_V1_Delivery()
        first.refsGeneration = 1
        first.conversationRef = 1
        first.conversation = "alice~bob"
        _ = resolver.resolve(first)
        var second = Relay_V1_Delivery()
        second.refsGeneration = 2
        second.conversationRef = 1
        second.conversation = "bob~carol"
        guard case .resolved(let redefined) = resolver.resolve(second), redefined.conversation == "bob~carol" else {
            Issue.record("generation 2 did not redefine ref 1")
            return
        }
        var use = Relay_V1_Delivery()
        use.conversationRef = 1
        guard case .resolved(let full) = resolver.resolve(use) else {
            Issue.record("ref 1 of generation 2 did not resolve")
            return
        }
        #expect(full.conversation == "bob~carol" && resolver.generation == 2)
        resolver.clear()
        guard case .unresolved = resolver.resolve(use) else {
            Issue.record("a cleared table resolved a ref")
            return
        }
    }

    @Test func locatesAndLearnsFromTheRelaysTableOfTheSameGeneration() {
        var table = CompactDeliveryTable()
        var resolver = CompactDeliveryResolver()
        let first = table.compact(fullDelivery("alice~bob", seq: 1, from: "alice", device: "alice-phone"), recipientUser: "bob")!
        _ = table.compact(fullDelivery("gteam", seq: 1, from: "carol", device: "carol-phone"), recipientUser: "bob")
        let lost = table.compact(fullDelivery("gteam", seq: 2, from: "carol", device: "carol-phone"), recipientUser: "bob")!
        _ = resolver.resolve(first)  // the client missed the second (say, a bug): the third names refs it does not know
        guard case .unresolved(let unresolved) = resolver.resolve(lost) else {
            Issue.record("resolved without the definition")
            return
        }
        let refs = table.refs(on: true)
        let located = CompactDeliveryResolver.locate(unresolved, in: refs)
        #expect(located?.conversation.rawValue == "gteam" && located?.seq == 2)
        let learned = resolver.learn(refs)
        #expect(learned)
        guard case .resolved(let full) = resolver.resolve(lost) else {
            Issue.record("still unresolved after learning the relay's table")
            return
        }
        #expect((full.conversation, full.fromUser, full.fromDevice) == ("gteam", "carol", "carol-phone"))

        // Another generation's table says nothing about it.
        var other = refs
        other.generation += 1
        #expect(CompactDeliveryResolver.locate(unresolved, in: other) == nil)
        var fresh = CompactDeliveryResolver()
        let learnedOther = fresh.learn(other)
        #expect(!learnedOther)
    }
}
