import Testing

@testable import RelayCore

@Suite struct IdentifierTests {
    @Test func acceptsTheAlphabetUpTo64Bytes() throws {
        #expect(try UserID(validating: "alice").rawValue == "alice")
        #expect(try DeviceID(validating: "Alice_phone-2").rawValue == "Alice_phone-2")
        let longest = String(repeating: "a", count: 64)
        #expect(UserID(rawValue: longest) != nil)
        #expect(DeviceID(rawValue: longest) != nil)
    }

    @Test func saysWhatIsWrong() {
        #expect(throws: IdentifierError.empty(.user)) { try UserID(validating: "") }
        #expect(throws: IdentifierError.tooLong(.device, length: 65, maximum: 64)) {
            try DeviceID(validating: String(repeating: "d", count: 65))
        }
        #expect(throws: IdentifierError.invalidByte(.user, byte: UInt8(ascii: "/"), offset: 3)) {
            try UserID(validating: "bob/x")
        }
        #expect(throws: IdentifierError.invalidByte(.device, byte: 0xC3, offset: 1)) {
            try DeviceID(validating: "xé-phone")
        }
        for bad in ["a b", "a+", "#", "a~b", "a.b", "a\u{0}"] {
            #expect(UserID(rawValue: bad) == nil, "\(bad)")
        }
    }

    @Test func userOrderIsBytewise() {
        // Uppercase sorts before lowercase, digits before letters, '-' before '_'.
        #expect(user("Zed") < user("alice"))
        #expect(user("9") < user("A"))
        #expect(user("-") < user("_"))
        #expect(user("ab") < user("abc"))
    }

    @Test func directConversationIsSymmetric() {
        let a = ConversationID.direct(user("bob"), user("alice"))
        let b = ConversationID.direct(user("alice"), user("bob"))
        #expect(a == b)
        #expect(a.rawValue == "alice~bob")
        #expect(a.directUsers?.first == user("alice"))
        #expect(a.directUsers?.second == user("bob"))
        #expect(!a.isGroup)
        #expect(ConversationID.direct(user("Zed"), user("amy")).rawValue == "Zed~amy")
    }

    @Test func parsesDirectConversations() throws {
        let parsed = try ConversationID(validating: "alice~bob")
        #expect(parsed == .direct(user("alice"), user("bob")))
        #expect(try ConversationID(validating: "amy~amy").kind == .direct(user("amy"), user("amy")))
        #expect(throws: IdentifierError.usersNotSorted) { try ConversationID(validating: "bob~alice") }
        #expect(throws: IdentifierError.tooManySeparators) { try ConversationID(validating: "a~b~c") }
        #expect(throws: IdentifierError.invalidPart(.empty(.user))) { try ConversationID(validating: "~bob") }
        #expect(throws: IdentifierError.invalidPart(.empty(.user))) { try ConversationID(validating: "alice~") }
        #expect(throws: IdentifierError.invalidPart(.invalidByte(.user, byte: UInt8(ascii: "!"), offset: 7))) {
            try ConversationID(validating: "alice~b!")
        }
        let longest = String(repeating: "a", count: 64) + "~" + String(repeating: "b", count: 64)
        #expect(ConversationID(rawValue: longest) != nil)
        #expect(ConversationID(rawValue: longest + "b") == nil)
    }

    @Test func parsesGroupConversations() throws {
        #expect(try ConversationID(validating: "g7kq2m9x").isGroup)
        #expect(ConversationID(rawValue: "g" + String(repeating: "x", count: 63)) != nil)
        #expect(throws: IdentifierError.invalidPart(.tooLong(.group, length: 64, maximum: 63))) {
            try ConversationID(validating: "g" + String(repeating: "x", count: 64))
        }
        #expect(throws: IdentifierError.invalidPart(.empty(.group))) { try ConversationID(validating: "g") }
        #expect(throws: IdentifierError.notAConversation) { try ConversationID(validating: "alice") }
        #expect(throws: IdentifierError.notAConversation) { try ConversationID(validating: "") }
        #expect(throws: IdentifierError.invalidPart(.invalidByte(.group, byte: UInt8(ascii: "+"), offset: 2))) {
            try ConversationID(validating: "ga+")
        }
    }

    @Test func errorsDescribeThemselves() {
        #expect(IdentifierError.tooLong(.user, length: 70, maximum: 64).description.contains("70"))
        #expect(IdentifierError.invalidPart(.empty(.group)).description.hasPrefix("conversation id:"))
    }

    @Test func groupIDsAreRandomAndValid() {
        var generator = SeededGenerator(state: 42)
        let ids = (0..<1000).map { _ in GroupIDGenerator().next(using: &generator) }
        #expect(Set(ids).count == 1000)
        for id in ids {
            #expect(id.isGroup)
            #expect(id.rawValue.utf8.count == 16)
            #expect(ConversationID(rawValue: id.rawValue) == id)
        }
        // Every alphabet byte shows up: the mask picks across all 64.
        let used = Set(ids.flatMap { $0.rawValue.utf8.dropFirst() })
        #expect(used.count == 64)
    }

    @Test func groupIDLengthIsConfigurable() {
        var generator = SeededGenerator(state: 7)
        #expect(GroupIDGenerator(suffixLength: 1).next(using: &generator).rawValue.utf8.count == 2)
        let longest = GroupIDGenerator(suffixLength: 63).next(using: &generator)
        #expect(longest.rawValue.utf8.count == 64)
        #expect(ConversationID(rawValue: longest.rawValue) != nil)
        #expect(GroupIDGenerator().next().isGroup)
    }
}
