import Foundation
import Signal
import Testing

@Suite("Sender keys (groups)")
struct GroupTests {
    @Test("a distribution message lets members decrypt; a rotated key shuts a removed member out")
    func senderKeys() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        let carol = try TestDevice("carol")
        let name = SenderKeyName(groupID: "g1", sender: alice.address)
        let distribution = try alice.signal.senderKeyDistribution(for: name)
        try bob.signal.processSenderKeyDistribution(distribution, for: name)
        try carol.signal.processSenderKeyDistribution(distribution, for: name)

        var messages: [(Data, String)] = []
        for i in 0 ..< 5 {
            let text = "group message \(i)"
            messages.append((try alice.signal.groupEncrypt(Data(text.utf8), for: name), text))
        }
        for (message, text) in messages {
            #expect(try bob.signal.groupDecrypt(message, from: name) == Data(text.utf8))
        }
        for (message, text) in messages.reversed() {  // out of order
            #expect(try carol.signal.groupDecrypt(message, from: name) == Data(text.utf8))
        }
        #expect(throws: SignalError.self) { try bob.signal.groupDecrypt(messages[0].0, from: name) }  // duplicate

        // Carol leaves: Alice starts a new sender key and gives it to Bob only.
        try alice.store.deleteSenderKey(for: name)
        let rotated = try alice.signal.senderKeyDistribution(for: name)
        #expect(rotated != distribution)
        try bob.signal.processSenderKeyDistribution(rotated, for: name)
        let after = try alice.signal.groupEncrypt(Data("after carol left".utf8), for: name)
        #expect(try bob.signal.groupDecrypt(after, from: name) == Data("after carol left".utf8))
        do {
            _ = try carol.signal.groupDecrypt(after, from: name)
            Issue.record("a removed member decrypted a message under the new sender key")
        } catch {
            // Carol has a record for Alice, but not the new key id in it.
            #expect(error.code == .invalidMessage)
        }
    }

    @Test("a group message from an unknown sender is no_session")
    func unknownSender() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        let name = SenderKeyName(groupID: "g1", sender: alice.address)
        _ = try alice.signal.senderKeyDistribution(for: name)  // never sent to Bob
        let message = try alice.signal.groupEncrypt(Data("x".utf8), for: name)
        do {
            _ = try bob.signal.groupDecrypt(message, from: name)
            Issue.record("decrypted without the sender key")
        } catch {
            #expect(error.code == .noSession)
        }
    }
}
