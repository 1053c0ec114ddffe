import Foundation
import RelayCore
import Signal
import Testing

@testable import RelayE2EE

@Suite("SecureMessenger's bookkeeping (MessengerState)")
struct MessengerStateTests {
    @Test("membership: created lists everyone, a removal or leave asks for a new sender key, an addition does not")
    func membership() {
        var state = MessengerState()
        state.apply(.members(["alice", "bob", "carol"]), group: "g1")
        #expect(state.groups["g1"]?.members == ["alice", "bob", "carol"])
        #expect(state.groups["g1"]?.rotate == false)
        state.groups["g1"]?.distributedTo = ["bob/bob-phone"]
        state.apply(.added(["dave"]), group: "g1")
        #expect(state.groups["g1"]?.members == ["alice", "bob", "carol", "dave"])
        #expect(state.groups["g1"]?.rotate == false)
        state.apply(.removed(["carol"]), group: "g1")
        #expect(state.groups["g1"]?.members == ["alice", "bob", "dave"])
        #expect(state.groups["g1"]?.rotate == true)
        // A member list that lost someone (a GroupInfo answer) rotates too.
        var other = MessengerState()
        other.apply(.members(["alice", "bob"]), group: "g2")
        other.apply(.members(["alice"]), group: "g2")
        #expect(other.groups["g2"]?.rotate == true)
    }

    @Test("events map to changes; a leave without users is the actor leaving")
    func changes() {
        var event = Relay_V1_MembershipEvent()
        event.change = .left
        event.actor = "bob"
        #expect(SecureMessenger.change(event) == .removed(["bob"]))
        event.change = .created
        event.users = ["bob", "carol"]
        event.actor = "alice"
        #expect(SecureMessenger.change(event) == .members(["alice", "bob", "carol"]))
        event.change = .adminGranted
        #expect(SecureMessenger.change(event) == nil)
    }

    @Test("the outbox keeps the newest messages only; devices are learned once")
    func outboxAndDevices() {
        var state = MessengerState()
        for i in 0 ..< 10 {
            state.remember(.init(conversation: "a~b", clientMessageID: "m\(i)", body: Data([UInt8(i)])), limit: 4)
        }
        #expect(state.outbox.map(\.clientMessageID) == ["m6", "m7", "m8", "m9"])
        state.learn(["b-phone"], of: "b")
        state.learn(["b-laptop", "b-phone"], of: "b")
        #expect(state.devices["b"] == ["b-phone", "b-laptop"])
    }

    @Test("the state survives a round trip through its storage")
    func persistence() throws {
        let storage = MemoryRecordStorage()
        var state = MessengerState()
        state.keysUploaded = true
        state.nextPreKeyID = 101
        state.apply(.members(["a", "b"]), group: "g")
        try state.save(to: storage)
        #expect(try MessengerState.load(from: storage) == state)
        #expect(try MessengerState.load(from: MemoryRecordStorage()) == MessengerState())
    }

    @Test("a bundle with bad keys is refused before it reaches the library")
    func badBundle() throws {
        var bundle = Relay_V1_KeyBundle()
        bundle.identityKey = Data(repeating: 5, count: 32)
        bundle.deviceID = 1
        #expect(throws: (any Error).self) { try SecureMessenger.preKeyBundle(bundle) }
    }
}
