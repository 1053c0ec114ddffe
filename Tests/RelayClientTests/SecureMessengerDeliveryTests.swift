import Foundation
import RelayClient
import RelayCore
import RelayE2EE
import Signal
import SwiftProtobuf
import Testing

/// `SecureMessenger.open(_:)` fed deliveries out of order and twice, as a
/// relay may hand them over after a reconnect or a failover (issue 13,
/// item 8): every message decrypts once, a duplicate is recognised
/// (`.control`: not delivered again, no retry request, no crash). No relay
/// is needed: a delivery that decrypts never touches the connection.
@Suite("SecureMessenger: out-of-order and duplicated deliveries")
struct SecureMessengerDeliveryTests {
    /// Bob's messenger (never connected) and Alice as a bare Signal device with a session to it.
    struct Pair {
        let bob: SecureMessenger
        let alice: SignalProtocol
        let aliceAddress = SignalAddressing.address(user: "alice", device: "alice-phone")

        init() throws {
            let configuration = RelayClient.Configuration(user: "bob", device: "bob-phone", token: "t",
                                                          endpoints: [Endpoint(host: "127.0.0.1", port: 1)])
            bob = try SecureMessenger(client: RelayClient(configuration: configuration),
                                      store: SignalRecordStore(storage: MemoryRecordStorage()))
            alice = try SignalProtocol(store: SignalRecordStore(storage: MemoryRecordStorage()))
            _ = try alice.createIdentity()
            let identity = try #require(try bob.store.localIdentity())
            let preKey = try #require(try bob.signal.generatePreKeys(start: 1, count: 1).first)
            let signed = try bob.signal.generateSignedPreKey(id: 1, timestampMs: 0)
            try alice.processBundle(PreKeyBundle(registrationID: identity.registrationID, deviceID: bob.address.deviceID,
                                                 preKey: preKey, signedPreKey: signed, identityKey: identity.publicKey),
                                    for: bob.address)
        }

        /// A delivery from Alice's phone in `conversation` carrying `frame`.
        func delivery(_ conversation: String, seq: UInt64, frame: E2EEFrame) -> Relay_V1_Delivery {
            var delivery = Relay_V1_Delivery()
            delivery.conversation = conversation
            delivery.epoch = 1
            delivery.seq = seq
            delivery.fromUser = "alice"
            delivery.fromDevice = "alice-phone"
            delivery.clientMessageID = "m\(seq)"
            delivery.ciphertext = frame.bytes
            return delivery
        }

        /// Alice's pairwise message to Bob carrying `content`.
        func pairwise(_ content: Relay_E2ee_V1_Content) throws -> E2EEFrame {
            .signal(try alice.encrypt(content.serializedData(), for: bob.address))
        }
    }

    static func content(_ text: String) -> Relay_E2ee_V1_Content {
        var content = Relay_E2ee_V1_Content()
        content.body = Data(text.utf8)
        return content
    }

    /// Opens `deliveries` in `order` (indices, repeats allowed); returns the texts delivered and how many were `.control`.
    static func open(_ deliveries: [Relay_V1_Delivery], order: [Int], with bob: SecureMessenger) async -> (texts: [String], control: Int, other: [SecureMessenger.Incoming]) {
        var texts: [String] = [], control = 0, other: [SecureMessenger.Incoming] = []
        for index in order {
            let incoming = await bob.open(deliveries[index])
            switch incoming {
            case .message(let body, resendOf: nil): texts.append(String(decoding: body, as: UTF8.self))
            case .control: control += 1
            default: other.append(incoming)
            }
        }
        return (texts, control, other)
    }

    @Test("1:1: prekey messages then whisper messages after a ratchet step, shuffled and repeated")
    func pairwiseOutOfOrder() async throws {
        let pair = try Pair()
        let conversation = "alice~bob"
        // Before Bob answers, every message of Alice's is a prekey message.
        let first = try (1 ... 5).map { pair.delivery(conversation, seq: UInt64($0), frame: try pair.pairwise(Self.content("first \($0)"))) }
        let firstRun = await Self.open(first, order: [2, 0, 4, 2, 1, 0, 3, 4], with: pair.bob)
        #expect(firstRun.texts == ["first 3", "first 1", "first 5", "first 2", "first 4"])
        #expect(firstRun.control == 3)
        #expect(firstRun.other.isEmpty)

        // Bob answers: Alice's next messages are whisper messages under a new ratchet key.
        let answer = try pair.bob.signal.encrypt(Self.content("ack").serializedData(), for: pair.aliceAddress)
        let decrypted = try pair.alice.decrypt(answer, from: pair.bob.address)
        #expect(try Relay_E2ee_V1_Content(serializedBytes: decrypted).body == Data("ack".utf8))
        let second = try (6 ... 11).map { pair.delivery(conversation, seq: UInt64($0), frame: try pair.pairwise(Self.content("second \($0)"))) }
        if case .signal(let ciphertext) = try #require(E2EEFrame(second[0].ciphertext)) {
            #expect(ciphertext.kind == .whisper)
        }
        let secondRun = await Self.open(second, order: [5, 5, 3, 0, 1, 3, 2, 4, 0], with: pair.bob)
        #expect(secondRun.texts == ["second 11", "second 9", "second 6", "second 7", "second 8", "second 10"])
        #expect(secondRun.control == 3)
        #expect(secondRun.other.isEmpty)
        // A late duplicate from before the ratchet step is still recognised.
        let late = await pair.bob.open(first[1])
        #expect(late == .control)
    }

    @Test("group: the distribution, then sender key messages shuffled and repeated")
    func groupOutOfOrder() async throws {
        let pair = try Pair()
        let group = "gteam"
        let name = SenderKeyName(groupID: group, sender: pair.aliceAddress)
        var carrier = Relay_E2ee_V1_Content()
        carrier.senderKeyDistribution = try pair.alice.senderKeyDistribution(for: name)
        let distributed = await pair.bob.open(pair.delivery(group, seq: 1, frame: try pair.pairwise(carrier)))
        #expect(distributed == .control)

        let messages = try (2 ... 7).map { seq in
            pair.delivery(group, seq: UInt64(seq), frame: .signal(SignalCiphertext(
                kind: .senderKey, body: try pair.alice.groupEncrypt(Self.content("group \(seq)").serializedData(), for: name))))
        }
        let run = await Self.open(messages, order: [3, 1, 1, 5, 0, 3, 2, 4, 5], with: pair.bob)
        #expect(run.texts == ["group 5", "group 3", "group 7", "group 2", "group 4", "group 6"])
        #expect(run.control == 3)
        #expect(run.other.isEmpty)
    }
}
