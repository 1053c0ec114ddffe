import Foundation
import Testing

@testable import RelayCore

@Suite struct EnvelopeBuilderTests {
    let chat = ConversationID.direct(user("alice"), user("bob"))
    let position = MessagePosition(epoch: 2, seq: 41)

    @Test func deliveryCarriesTheMessageAndItsCiphertext() {
        let message = SequencedMessage(
            conversation: chat, position: position,
            sender: DeviceAddress(user: user("alice"), device: device("alice-phone")),
            serverTimeMilliseconds: 1_700_000_000_000, clientMessageID: "m-1", replyToSeq: 40)
        let delivery = Relay_V1_Delivery(message, ciphertext: Data([5]))
        #expect(delivery.conversation == "alice~bob")
        #expect(delivery.epoch == 2 && delivery.seq == 41)
        #expect(delivery.fromUser == "alice" && delivery.fromDevice == "alice-phone")
        #expect(delivery.serverTimeMs == 1_700_000_000_000)
        #expect(delivery.ciphertext == Data([5]))
        #expect(delivery.clientMessageID == "m-1" && delivery.replyToSeq == 40)
        #expect(!delivery.hasMembership)
    }

    @Test func membershipDelivery() throws {
        let (_, event) = try Group.create(id: group("gteam"), creator: user("ann"), members: [user("bob")])
        let delivery = Relay_V1_Delivery(membership: event, position: position, serverTimeMilliseconds: 5)
        #expect(delivery.hasMembership)
        #expect(delivery.membership.change == .created)
        #expect(delivery.fromUser == "ann")
        #expect(delivery.ciphertext.isEmpty)
        #expect(Relay_V1_Event.membership(event).membership == event.proto)
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
