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

    @Test func readStatusesGoToTheOtherMembersWithReceiptsOn() {
        let members = [user("alice"), user("bob"), user("cat"), user("alice")]
        let on: Set = [user("alice"), user("bob")]
        #expect(ReadReceipts.audience(reader: user("bob"), members: members, receiptsOn: on) == [user("alice")])
        let status = Relay_V1_Status.read(conversation: chat, upTo: at(7), by: user("bob"))
        #expect(status.kind == .read)
        #expect(status.conversation == "alice~bob")
        #expect(status.epoch == 1 && status.seq == 7)
        #expect(status.user == "bob")
    }

    @Test func eitherSidesPrivacySwitchSilencesReceipts() {
        let members = [user("alice"), user("bob")]
        #expect(ReadReceipts.audience(reader: user("bob"), members: members, receiptsOn: [user("alice")]).isEmpty)
        #expect(ReadReceipts.audience(reader: user("bob"), members: members, receiptsOn: [user("bob")]).isEmpty)
        #expect(ReadReceipts.audience(reader: user("bob"), members: members, receiptsOn: [user("alice"), user("bob")]) == [user("alice")])
    }

    @Test func groupReceiptsPerMember() {
        let members = [user("ann"), user("bob"), user("cat")]
        let on: Set = [user("ann"), user("bob")]
        #expect(ReadReceipts.audience(reader: user("bob"), members: members, receiptsOn: on) == [user("ann")])
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
