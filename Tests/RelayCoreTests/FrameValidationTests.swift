import Foundation
import Testing

@testable import RelayCore

@Suite struct FrameValidationTests {
    func message(conversation: String = "alice~bob", seq: UInt64 = 1, replyTo: UInt64 = 0, users: [String] = ["bob"]) -> Relay_V1_Frame {
        var message = Relay_V1_ReplicatedMessage()
        message.conversation = conversation
        message.epoch = 1
        message.seq = seq
        message.replyToSeq = replyTo
        message.user = "alice"
        message.device = "alice-phone"
        message.users = users
        var frame = Relay_V1_Frame()
        frame.message = message
        return frame
    }

    @Test func aWellFormedMessageAndANoteToSelfPass() throws {
        try FrameValidation.validate(message())
        try FrameValidation.validate(message(conversation: "alice~alice", users: ["alice"]))
        try FrameValidation.validate(message(seq: Seq.maximum, replyTo: Seq.maximum))
    }

    @Test func seqsOutOfRangeAreRefused() {
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(message(seq: 0)) }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(message(seq: UInt64(1) << 63)) }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(message(replyTo: UInt64.max)) }
        var receipt = Relay_V1_ForwardedReceipt()
        receipt.conversation = "alice~bob"
        receipt.user = "alice"
        receipt.device = "alice-phone"
        receipt.receipt.readUpToSeq = UInt64(1) << 63
        var frame = Relay_V1_Frame()
        frame.receipt = receipt
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
        var cursor = Relay_V1_CursorUpdate()
        cursor.device = "bob-phone"
        cursor.conversation = "alice~bob"
        cursor.seq = UInt64.max
        frame.cursor = cursor
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
    }

    @Test func badIdsAreRefused() {
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(message(conversation: "bob~alice")) }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(message(conversation: "")) }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(message(users: ["bob", "not a user"])) }
        var state = Relay_V1_ConversationState()
        state.conversation = "gabc"
        state.members = ["alice": "admin", "{evil}": "member"]
        var frame = Relay_V1_Frame()
        frame.conversation = state
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
    }

    @Test func keysRequestsAndPrivacyUpdatesNameValidIds() throws {
        var frame = Relay_V1_Frame()
        frame.keysRequest = .with { $0.requestID = "r1"; $0.requesterDevice = "bob-phone"; $0.fetch.user = "alice" }
        try FrameValidation.validate(frame)
        frame.keysRequest = .with { $0.requestID = "r1"; $0.requesterDevice = "bob-phone"; $0.fetch.user = "{u:x}" }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
        frame.privacy = .with { $0.user = "" }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
    }

    @Test func keysMirrorsNameAValidDevice() throws {
        var frame = Relay_V1_Frame()
        frame.keysMirror = .with { $0.device = "alice-phone"; $0.consumed = [Data([8, 1])] }
        try FrameValidation.validate(frame)
        frame.keysMirror = .with { $0.device = "{d:x}:otk" }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
        frame.keysMirror = .with { $0.device = "" }
        #expect(throws: InvalidFrame.self) { try FrameValidation.validate(frame) }
    }

    @Test func directMembersOfANoteToSelfAreOneUser() throws {
        let note = try ConversationID(validating: "alice~alice")
        #expect(note.directMembers?.map(\.rawValue) == ["alice"])
        #expect(try ConversationID(validating: "alice~bob").directMembers?.map(\.rawValue) == ["alice", "bob"])
        #expect(try ConversationID(validating: "gabc").directMembers == nil)
    }
}
