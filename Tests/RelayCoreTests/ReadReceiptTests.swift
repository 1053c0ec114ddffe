import Testing

@testable import RelayCore

@Suite struct ReadReceiptTests {
    let chat = ConversationID.direct(user("alice"), user("bob"))

    func at(_ seq: UInt64, epoch: UInt32 = 1) -> MessagePosition { MessagePosition(epoch: epoch, seq: seq) }

    @Test func positionsOrderByEpochThenSeq() {
        #expect(at(9, epoch: 1) < at(1, epoch: 2))
        #expect(at(1) < at(2))
        #expect(at(5, epoch: 2).description == "2:5")
    }

    @Test func markersNeverGoBackwards() throws {
        var markers = ReadMarkers()
        let bob = user("bob")
        #expect(markers.position(of: bob, in: chat) == nil)
        let first = try #require(try markers.record(at(5), by: bob, in: chat))
        #expect(first.from == nil && first.to == at(5))
        #expect(try markers.record(at(3), by: bob, in: chat) == nil)
        #expect(try markers.record(at(5), by: bob, in: chat) == nil)
        #expect(markers.position(of: bob, in: chat) == at(5))
        let second = try #require(try markers.record(at(8), by: bob, in: chat))
        #expect(second.from == at(5) && second.to == at(8))
        // A new epoch moves forward even with a lower seq.
        #expect(try markers.record(at(1, epoch: 2), by: bob, in: chat)?.to == at(1, epoch: 2))
        #expect(try markers.record(at(100, epoch: 1), by: bob, in: chat) == nil)
        // Markers are per (conversation, member).
        #expect(markers.position(of: user("alice"), in: chat) == nil)
        #expect(markers.position(of: bob, in: group("gx")) == nil)
    }

    @Test func seqZeroAndReceiptsAheadOfTheLog() throws {
        var markers = ReadMarkers()
        #expect(try markers.record(at(0), by: user("bob"), in: chat) == nil)
        #expect(throws: ReceiptError.aheadOfConversation(receipt: at(11), latest: at(10))) {
            try markers.record(at(11), by: user("bob"), in: chat, latest: at(10))
        }
        #expect(try markers.record(at(10), by: user("bob"), in: chat, latest: at(10)) != nil)
        #expect(ReceiptError.aheadOfConversation(receipt: at(2), latest: at(1)).code == .badRequest)
    }

    @Test func readStatusesGoToTheAuthorsDevices() throws {
        var markers = ReadMarkers()
        let advance = try #require(try markers.record(at(7), by: user("bob"), in: chat))
        let alice = ReceiptRecipient(
            user: user("alice"), privacy: PrivacySettings(), devices: [device("alice-phone"), device("alice-laptop")])
        let bobSelf = ReceiptRecipient(user: user("bob"), privacy: PrivacySettings(), devices: [device("bob-phone")])
        let statuses = advance.statuses(readerPrivacy: PrivacySettings(), authors: [alice, bobSelf, alice])
        #expect(statuses.map(\.topic) == ["d/alice-phone/s", "d/alice-laptop/s"])
        let status = statuses[0].status
        #expect(status.kind == .read)
        #expect(status.conversation == "alice~bob")
        #expect(status.epoch == 1 && status.seq == 7)
        #expect(status.user == "bob")
    }

    @Test func eitherSidesPrivacySwitchSilencesReceipts() throws {
        let advance = ReadAdvance(conversation: chat, reader: user("bob"), from: nil, to: at(3))
        let off = PrivacySettings(readReceipts: false)
        let aliceOn = ReceiptRecipient(user: user("alice"), privacy: PrivacySettings(), devices: [device("a1")])
        let aliceOff = ReceiptRecipient(user: user("alice"), privacy: off, devices: [device("a1")])
        #expect(advance.statuses(readerPrivacy: off, authors: [aliceOn]).isEmpty)
        #expect(advance.statuses(readerPrivacy: PrivacySettings(), authors: [aliceOff]).isEmpty)
        #expect(advance.statuses(readerPrivacy: PrivacySettings(), authors: [aliceOn]).count == 1)
    }

    @Test func groupReceiptsPerMember() throws {
        let team = group("gteam")
        var markers = ReadMarkers()
        let ann = ReceiptRecipient(user: user("ann"), privacy: PrivacySettings(), devices: [device("ann-1")])
        let cat = ReceiptRecipient(user: user("cat"), privacy: PrivacySettings(readReceipts: false), devices: [device("cat-1")])
        let advance = try #require(try markers.record(at(4), by: user("bob"), in: team))
        let statuses = advance.statuses(readerPrivacy: PrivacySettings(), authors: [ann, cat])
        #expect(statuses.map(\.device) == [device("ann-1")])
        #expect(statuses[0].status.conversation == "gteam")
    }

    @Test func privacySetChangesOnlyWhatItSets() throws {
        var settings = PrivacySettings()
        var request = Relay_V1_PrivacySettings()
        request.lastSeen = "nobody"
        try settings.apply(request)
        #expect(settings == PrivacySettings(readReceipts: true, lastSeen: .nobody))
        request = Relay_V1_PrivacySettings()
        request.readReceipts = false
        try settings.apply(request)
        #expect(settings == PrivacySettings(readReceipts: false, lastSeen: .nobody))
        request.lastSeen = "friends"
        #expect(throws: PrivacySettingsError.unknownLastSeen("friends")) { try settings.apply(request) }
        #expect(settings.readReceipts == false)
    }
}
