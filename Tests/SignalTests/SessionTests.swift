import Foundation
import Signal
import Testing

/// A device for the tests: a store in memory, an identity, prekeys.
struct TestDevice {
    let address: SignalAddress
    let store: SignalRecordStore
    let signal: SignalProtocol
    var preKeys: [PublicPreKey] = []
    var signedPreKey: PublicSignedPreKey
    let identity: LocalIdentity

    init(_ name: String, device: Int32 = 1, storage: any RecordStorage = MemoryRecordStorage(),
         policy: SignalRecordStore.TrustPolicy = .refuseChanged, preKeys: Int = 5) throws {
        address = SignalAddress(name: name, deviceID: device)
        store = SignalRecordStore(storage: storage, policy: policy)
        signal = try SignalProtocol(store: store)
        if let identity = try store.localIdentity() {
            self.identity = identity
        } else {
            identity = try signal.createIdentity()
        }
        self.preKeys = try signal.generatePreKeys(start: 1, count: preKeys)
        signedPreKey = try signal.generateSignedPreKey(id: 7, timestampMs: 1_700_000_000_000)
    }


    /// A bundle handing out one-time prekey `index` (nil: none left).
    func bundle(preKey index: Int? = 0) throws -> PreKeyBundle {
        PreKeyBundle(registrationID: identity.registrationID, deviceID: address.deviceID,
                         preKey: index.map { preKeys[$0] }, signedPreKey: signedPreKey, identityKey: identity.publicKey)
    }
}

@Suite("Signal sessions (X3DH and Double Ratchet over libsignal-protocol-c)")
struct SessionTests {
    @Test("first contact by prekey message, answer by whisper message")
    func firstContact() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        try alice.signal.processBundle(bob.bundle(), for: bob.address)
        #expect(try alice.signal.hasSession(with: bob.address))

        let first = try alice.signal.encrypt(Data("hello bob".utf8), for: bob.address)
        #expect(first.kind == .preKey)
        #expect(!first.body.contains(Data("hello bob".utf8)))
        #expect(try bob.signal.decrypt(first, from: alice.address) == Data("hello bob".utf8))
        // The one-time prekey is used up on Bob's side.
        #expect(try bob.store.preKey(bob.preKeys[0].id) == nil)
        #expect(try bob.store.identity(of: alice.address) == alice.identity.publicKey)

        let answer = try bob.signal.encrypt(Data("hi alice".utf8), for: alice.address)
        #expect(answer.kind == .whisper)
        #expect(try alice.signal.decrypt(answer, from: bob.address) == Data("hi alice".utf8))
        // Alice has heard back: her next message is a plain whisper message.
        #expect(try alice.signal.encrypt(Data("x".utf8), for: bob.address).kind == .whisper)
    }

    @Test("a session from a bundle without a one-time prekey (signed prekey only)")
    func withoutOneTimePrekey() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        try alice.signal.processBundle(bob.bundle(preKey: nil), for: bob.address)
        let message = try alice.signal.encrypt(Data("no otk".utf8), for: bob.address)
        #expect(try bob.signal.decrypt(message, from: alice.address) == Data("no otk".utf8))
    }

    @Test("a long conversation: ratchet steps both ways, out of order and duplicates")
    func longConversation() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        try alice.signal.processBundle(bob.bundle(), for: bob.address)
        var pending: [(SignalCiphertext, String)] = []
        for round in 0 ..< 20 {
            let (from, to) = round % 2 == 0 ? (alice, bob) : (bob, alice)
            pending = try (0 ..< 3).map { i in
                let text = "round \(round) message \(i)"
                return (try from.signal.encrypt(Data(text.utf8), for: to.address), text)
            }
            // Delivered in reverse order; the skipped message keys are kept.
            for (message, text) in pending.reversed() {
                #expect(try to.signal.decrypt(message, from: from.address) == Data(text.utf8))
            }
        }
        // A duplicate (its message key is used up) is refused, not decrypted twice.
        let (last, _) = try #require(pending.last)
        #expect(throws: SignalError.self) { try alice.signal.decrypt(last, from: bob.address) }
        do {
            _ = try alice.signal.decrypt(last, from: bob.address)
        } catch {
            #expect(error.code == .duplicateMessage)
        }
    }

    @Test("a tampered message is refused with invalid MAC (or invalid message)")
    func tampered() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        try alice.signal.processBundle(bob.bundle(), for: bob.address)
        _ = try bob.signal.decrypt(alice.signal.encrypt(Data("one".utf8), for: bob.address), from: alice.address)
        var message = try bob.signal.encrypt(Data("two".utf8), for: alice.address)
        message.body[message.body.count - 12] ^= 0x01
        do {
            _ = try alice.signal.decrypt(message, from: bob.address)
            Issue.record("a tampered message decrypted")
        } catch {
            #expect([SignalError.Code.invalidMAC, .invalidMessage].contains(error.code))
        }
    }

    @Test("garbage instead of a Signal message is a typed error, never a crash", arguments: [
        Data(), Data([0x33]), Data([0x33, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), Data(repeating: 0x41, count: 300),
    ])
    func garbage(body: Data) throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        for kind in [SignalCiphertext.Kind.preKey, .whisper] {
            #expect(throws: SignalError.self) { try alice.signal.decrypt(SignalCiphertext(kind: kind, body: body), from: bob.address) }
        }
        #expect(throws: SignalError.self) {
            try alice.signal.groupDecrypt(body, from: SenderKeyName(groupID: "g", sender: bob.address))
        }
        #expect(throws: SignalError.self) {
            try alice.signal.processSenderKeyDistribution(body, for: SenderKeyName(groupID: "g", sender: bob.address))
        }
    }

    @Test("a whisper message without a session is no_session")
    func noSession() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        let carol = try TestDevice("carol")
        try alice.signal.processBundle(bob.bundle(), for: bob.address)
        _ = try bob.signal.decrypt(alice.signal.encrypt(Data("a".utf8), for: bob.address), from: alice.address)
        let whisper = try bob.signal.encrypt(Data("b".utf8), for: alice.address)
        do {
            _ = try carol.signal.decrypt(whisper, from: bob.address)
            Issue.record("decrypted without a session")
        } catch {
            #expect(error.code == .noSession)
        }
    }

    @Test("a changed identity is refused until accepted; the old one is reported")
    func identityChange() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        try alice.signal.processBundle(bob.bundle(), for: bob.address)
        _ = try bob.signal.decrypt(alice.signal.encrypt(Data("a".utf8), for: bob.address), from: alice.address)

        // Bob reinstalls: a new identity under the same address.
        let newBob = try TestDevice("bob")
        do {
            try alice.signal.processBundle(newBob.bundle(), for: newBob.address)
            Issue.record("a changed identity was accepted silently")
        } catch {
            #expect((error as? SignalError)?.code == .untrustedIdentity)
        }
        #expect(try alice.store.identityChanges(of: "bob") == [bob.address])
        // A prekey message from the new identity is refused too.
        try newBob.signal.processBundle(alice.bundle(preKey: 1), for: alice.address)
        let fromNew = try newBob.signal.encrypt(Data("it's me".utf8), for: alice.address)
        #expect(throws: SignalError.self) { try alice.signal.decrypt(fromNew, from: newBob.address) }

        #expect(try alice.store.acceptIdentityChange(of: "bob") == [bob.address])
        #expect(try alice.store.identity(of: bob.address) == newBob.identity.publicKey)
        #expect(try alice.signal.decrypt(fromNew, from: newBob.address) == Data("it's me".utf8))
    }

    @Test("with .acceptChanged a changed identity is taken and reported")
    func acceptChanged() throws {
        let alice = try TestDevice("alice", policy: .acceptChanged)
        let bob = try TestDevice("bob")
        try alice.signal.processBundle(bob.bundle(), for: bob.address)
        let newBob = try TestDevice("bob")
        try alice.signal.processBundle(newBob.bundle(), for: newBob.address)
        #expect(try alice.store.identityChanges(of: "bob") == [])  // saved, so no longer pending
        #expect(try alice.store.identity(of: bob.address) == newBob.identity.publicKey)
    }

    @Test("a signed prekey with a bad signature is refused by X3DH and by XEdDSA")
    func badSignature() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        var bundle = try bob.bundle()
        #expect(XEdDSA.isValidSignature(bundle.signedPreKey.signature, of: bundle.signedPreKey.publicKey.serialized, by: bundle.identityKey))
        #expect(!XEdDSA.isValidSignature(bundle.signedPreKey.signature, of: bundle.signedPreKey.publicKey.serialized, by: alice.identity.publicKey))
        bundle.signedPreKey.signature[3] ^= 0x80
        #expect(!XEdDSA.isValidSignature(bundle.signedPreKey.signature, of: bundle.signedPreKey.publicKey.serialized, by: bundle.identityKey))
        #expect(!XEdDSA.isValidSignature(Data(count: 10), of: Data(), by: bundle.identityKey))
        do {
            try alice.signal.processBundle(bundle, for: bob.address)
            Issue.record("a forged bundle was accepted")
        } catch {
            #expect(error.code == .invalidKey)
        }
    }

    @Test("safety numbers: 60 digits, the same on both sides, different for another key")
    func safetyNumber() throws {
        let alice = try TestDevice("alice")
        let bob = try TestDevice("bob")
        let mallory = try TestDevice("bob")
        let forAlice = try alice.signal.safetyNumber(local: "alice", localKeys: [alice.identity.publicKey],
                                                     remote: "bob", remoteKeys: [bob.identity.publicKey])
        let forBob = try bob.signal.safetyNumber(local: "bob", localKeys: [bob.identity.publicKey],
                                                 remote: "alice", remoteKeys: [alice.identity.publicKey])
        #expect(forAlice.count == 60 && forAlice.allSatisfy(\.isNumber))
        #expect(forAlice == forBob)
        let withMallory = try alice.signal.safetyNumber(local: "alice", localKeys: [alice.identity.publicKey],
                                                        remote: "bob", remoteKeys: [mallory.identity.publicKey])
        #expect(withMallory != forAlice)
    }

    @Test("public keys are 33 bytes with type byte 0x05")
    func publicKeyForm() throws {
        let bob = try TestDevice("bob")
        #expect(try bob.identity.publicKey.serialized.count == 33)
        #expect(try bob.identity.publicKey.serialized.first == 0x05)
        #expect(throws: SignalError.self) { try SignalPublicKey(serialized: Data(repeating: 5, count: 32)) }
        #expect(throws: SignalError.self) { try SignalPublicKey(serialized: Data([0x06]) + Data(count: 32)) }
    }
}

@Suite("The last-resort prekey")
struct LastResortTests {
    @Test("it is kept after use, so two first contacts can use it")
    func reusable() throws {
        let bob = try TestDevice("bob", preKeys: 1)
        let lastResort = try bob.signal.generatePreKey(id: SignalRecordStore.lastResortPreKeyID)
        #expect(lastResort.id == 0xFF_FFFF)
        for name in ["alice", "carol"] {
            let peer = try TestDevice(name)
            let bundle = PreKeyBundle(registrationID: bob.identity.registrationID, deviceID: 1, preKey: lastResort,
                                          signedPreKey: bob.signedPreKey, identityKey: bob.identity.publicKey)
            try peer.signal.processBundle(bundle, for: bob.address)
            let message = try peer.signal.encrypt(Data("via last resort".utf8), for: bob.address)
            #expect(try bob.signal.decrypt(message, from: peer.address) == Data("via last resort".utf8))
        }
        #expect(try bob.store.preKey(SignalRecordStore.lastResortPreKeyID) != nil)
    }
}
