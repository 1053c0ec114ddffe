import Foundation
import NIOCore
@testable import RelayChat
import RelayCore
import Testing

/// A message offered to the local pumps is encoded once, and that one
/// encoding is what every device without a ciphertext of its own gets.
@Suite struct OfferedMessageTests {
    static func message() -> Relay_V1_ReplicatedMessage {
        var m = Relay_V1_ReplicatedMessage()
        m.conversation = "g:team"
        m.epoch = 2
        m.seq = 7
        m.user = "alice"
        m.device = "alice-phone"
        m.timeMs = 1_796_000_000_000
        m.ciphertext = Data("sender key ciphertext".utf8)
        m.deviceCiphertexts["carol-laptop"] = Data("carol's own".utf8)
        m.clientMessageID = "c-1"
        m.replyToSeq = 3
        return m
    }

    static func decoded(_ buffer: ByteBuffer) throws -> Relay_V1_Delivery {
        try Relay_V1_Delivery(serializedBytes: Array(buffer.readableBytesView))
    }

    @Test func everyDeviceWithoutItsOwnCiphertextGetsTheSameBytes() throws {
        let offered = OfferedMessage(Self.message())
        let bob = offered.delivery(for: "bob-phone"), dave = offered.delivery(for: "dave-phone")
        // One storage for both: encoded once.
        let bobBase = bob.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let daveBase = dave.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(bobBase == daveBase && bobBase != 0)
        // What the pump would have encoded itself from the stored message.
        let expected = ChatRouter.delivery(conversation: "g:team", seq: 7, stored: bob.stored)
        #expect(try Self.decoded(bob.payload) == expected)
        #expect(expected.ciphertext == Data("sender key ciphertext".utf8))
        #expect((expected.epoch, expected.fromUser, expected.fromDevice, expected.clientMessageID, expected.replyToSeq)
                == (2, "alice", "alice-phone", "c-1", 3))
    }

    @Test func aDeviceWithItsOwnCiphertextGetsItsOwnEncoding() throws {
        let offered = OfferedMessage(Self.message())
        let carol = offered.delivery(for: "carol-laptop")
        #expect(carol.stored.ciphertext == Array("carol's own".utf8))
        let delivery = try Self.decoded(carol.payload)
        #expect(delivery.ciphertext == Data("carol's own".utf8) && delivery.seq == 7)
        #expect(try Self.decoded(offered.delivery(for: "bob-phone").payload).ciphertext == Data("sender key ciphertext".utf8))
    }
}
