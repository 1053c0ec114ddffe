import Foundation
import Testing

@testable import RelayCore

@Suite struct EnvelopeBuilderTests {
    let chat = ConversationID.direct(user("alice"), user("bob"))
    let position = MessagePosition(epoch: 2, seq: 41)

    @Test func membershipDelivery() throws {
        let (_, event) = try Group.create(id: group("gteam"), creator: user("ann"), members: [user("bob")])
        #expect(event.proto.change == .created)
        #expect(Relay_V1_Event.membership(event).membership == event.proto)
    }

    /// Both overflow kinds name a policy starting `drop_oldest:` (docs/protocol.md).
    @Test func queueOverflowPolicies() {
        let log = Relay_V1_Event.queueOverflow(dropped: 3, cap: 10_000, conversation: "alice~bob").queueOverflow
        #expect(log.dropped == 3 && log.policy == "drop_oldest:messages (alice~bob, at 10000 behind)")
        let queue = Relay_V1_Event.queueOverflow(dropped: 7, cap: 10_000).queueOverflow
        #expect(queue.dropped == 7 && queue.policy.hasPrefix("drop_oldest:entries"))
    }

    @Test func statuses() {
        let sequenced = Relay_V1_Status.sequenced(conversation: chat, position: position, clientMessageID: "m-1")
        #expect(sequenced.kind == .sequenced && sequenced.seq == 41 && sequenced.clientMessageID == "m-1")
        let delivered = Relay_V1_Status.delivered(
            conversation: chat, position: position, clientMessageID: "m-1",
            to: DeviceAddress(user: user("bob"), device: device("bob-phone")))
        #expect(delivered.kind == .delivered && delivered.user == "bob" && delivered.device == "bob-phone")
        let refused = Relay_V1_Status.refused(conversation: chat, clientMessageID: "m-2", refusal: SendRefusal.noCiphertext)
        #expect(refused.kind == .refused)
        #expect(refused.error.code == "bad_request")
        #expect(refused.error.message == SendRefusal.noCiphertext.message)
    }

    @Test func events() {
        #expect(Relay_V1_Event.prekeysLow(device: device("d1"), remaining: 3).prekeysLow.remaining == 3)
        #expect(Relay_V1_Event.sessionReplaced(device: device("d1")).sessionReplaced.device == "d1")
        #expect(Relay_V1_Event.deviceRemoved(device: device("d1")).deviceRemoved.device == "d1")
        let response = Relay_V1_Response.failure(requestID: "r1", GroupError.actorNotAdmin)
        #expect(response.requestID == "r1" && response.error.code == "not_admin")
    }
}
