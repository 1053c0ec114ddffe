import Foundation
import RelayCore
import Testing

@testable import RelayChat

/// A session's compact deliveries as the pump drives them: asked for or
/// not, acknowledged, checked for use (decision 0030).
@Suite struct CompactSessionTests {
    private func message(_ seq: UInt64) -> Relay_V1_Delivery {
        let stored = ChatStore.StoredMessage(
            user: "alice", device: "alice-phone", time: 1_765_000_000_000, ciphertext: [0x2E, 0x2E],
            clientMessageID: "m\(seq)", replyTo: 0, epoch: 1)
        return ChatRouter.delivery(conversation: "alice~bob", seq: seq, stored: stored)
    }

    @Test func fullUntilAskedThenCompactAndFullAgainWhenTurnedOff() throws {
        let session = CompactSession()
        #expect(session.compact(message(1), recipientUser: "bob") == nil)
        let refs = session.set(on: true)
        #expect(refs.on && refs.generation == 0)
        let first = try #require(session.compact(message(2), recipientUser: "bob"))
        #expect(first.scheduleCheck)  // the first compacted delivery asks for an idle check, once
        #expect((first.delivery.refsGeneration, first.delivery.conversationRef, first.delivery.conversation) == (1, 1, "alice~bob"))
        let second = try #require(session.compact(message(3), recipientUser: "bob"))
        #expect(!second.scheduleCheck)
        #expect((second.delivery.conversationRef, second.delivery.conversation) == (1, ""))
        // Asking again changes nothing.
        #expect(session.set(on: true).conversations == ["alice~bob"])

        // Off: full from now on; the table stays while its deliveries are unacknowledged.
        #expect(session.set(on: false).conversations == ["alice~bob"])
        #expect(session.compact(message(4), recipientUser: "bob") == nil)
        session.acknowledged()
        session.acknowledged()
        #expect(session.set(on: false).conversations.isEmpty)
    }

    @Test func anUnusedTableIsClearedAtTheNextCheckOnceNothingIsOutstanding() throws {
        let session = CompactSession()
        _ = session.set(on: true)
        _ = try #require(session.compact(message(1), recipientUser: "bob"))
        // Used since the last check: kept.
        #expect(session.idleCheck())
        // Unused, but a delivery is unacknowledged: kept (it may be sent again).
        #expect(session.idleCheck())
        #expect(session.refs.generation == 1)
        session.acknowledged()
        #expect(!session.idleCheck())
        #expect(session.refs.generation == 0 && session.refs.conversations.isEmpty)
        // The next delivery starts a new table and asks for checks again.
        let next = try #require(session.compact(message(2), recipientUser: "bob"))
        #expect(next.scheduleCheck && next.delivery.refsGeneration == 2 && next.delivery.conversation == "alice~bob")
    }

    @Test func aNewPumpOfTheSessionSchedulesChecksAgain() throws {
        let session = CompactSession()
        #expect(!session.takeNeedsCheck())  // no table: nothing to check
        _ = session.set(on: true)
        _ = try #require(session.compact(message(1), recipientUser: "bob"))
        #expect(!session.takeNeedsCheck())  // the pump that compacted it checks
        session.checksStopped()  // that pump stopped
        #expect(session.takeNeedsCheck())
        #expect(!session.takeNeedsCheck())
    }
}
