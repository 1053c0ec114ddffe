import Foundation
import SwiftProtobuf
import Testing

@testable import RelayCore

@Suite struct SendValidationTests {
    func send(id: String = "m-1", ciphertext: Data = Data([1, 2, 3]), perDevice: [String: Data] = [:]) -> Relay_V1_Send {
        var send = Relay_V1_Send()
        send.clientMessageID = id
        send.ciphertext = ciphertext
        send.deviceCiphertexts = perDevice
        send.replyToSeq = 4
        send.ttlSeconds = 60
        return send
    }

    @Test func acceptsAWellFormedSend() throws {
        let payload: [UInt8] = try send(perDevice: ["bob-phone": Data([9])]).serializedBytes()
        let valid = try ValidatedSend(decoding: payload)
        #expect(valid.clientMessageID == "m-1")
        #expect(valid.sharedCiphertext == Data([1, 2, 3]))
        #expect(valid.deviceCiphertexts == [device("bob-phone"): Data([9])])
        #expect(valid.replyTo == Seq(4) && valid.ttlSeconds == 60)
        #expect(valid.ciphertextBytes == 4)
        #expect(try ValidatedSend(decoding: Data(payload)) == valid)
    }

    @Test func perDeviceCiphertextsAlone() throws {
        let valid = try ValidatedSend(validating: send(ciphertext: Data(), perDevice: ["bob-phone": Data([9])]))
        #expect(valid.sharedCiphertext == nil)
    }

    @Test func clientMessageIDRules() throws {
        #expect(throws: SendRefusal.missingClientMessageID) { try ValidatedSend(validating: send(id: "")) }
        #expect(throws: SendRefusal.clientMessageIDTooLong(65)) {
            try ValidatedSend(validating: send(id: String(repeating: "x", count: 65)))
        }
        #expect(throws: SendRefusal.clientMessageIDNotPrintable(offset: 1)) { try ValidatedSend(validating: send(id: "a\nb")) }
        #expect(throws: SendRefusal.clientMessageIDNotPrintable(offset: 0)) { try ValidatedSend(validating: send(id: "é")) }
        #expect(throws: SendRefusal.clientMessageIDNotPrintable(offset: 0)) { try ValidatedSend(validating: send(id: "\u{7F}")) }
        _ = try ValidatedSend(validating: send(id: String(repeating: "~", count: 64)))
        _ = try ValidatedSend(validating: send(id: "!x"))
        // A space is refused: the relay's rule, one for RelayCore and the send path (docs/protocol.md).
        #expect(throws: SendRefusal.clientMessageIDNotPrintable(offset: 0)) { try ValidatedSend(validating: send(id: " !x")) }
    }

    @Test func replyToSeqMustBeASeqTheRelayCanHold() throws {
        var none = send()
        none.replyToSeq = 0
        #expect(try ValidatedSend(validating: none).replyTo == nil)
        var last = send()
        last.replyToSeq = Seq.maximum
        #expect(try ValidatedSend(validating: last).replyTo?.value == Seq.maximum)
        for wire in [Seq.maximum + 1, UInt64(1) << 63, UInt64.max] {
            var far = send()
            far.replyToSeq = wire
            #expect(throws: SendRefusal.replyToOutOfRange(wire)) { try ValidatedSend(validating: far) }
        }
    }

    @Test func needsACiphertext() {
        #expect(throws: SendRefusal.noCiphertext) { try ValidatedSend(validating: send(ciphertext: Data())) }
        #expect(throws: SendRefusal.emptyDeviceCiphertext(device("bob-phone"))) {
            try ValidatedSend(validating: send(perDevice: ["bob-phone": Data()]))
        }
        #expect(throws: SendRefusal.invalidDeviceID("bob/phone", .invalidByte(.device, byte: UInt8(ascii: "/"), offset: 3))) {
            try ValidatedSend(validating: send(perDevice: ["bob/phone": Data([1])]))
        }
    }

    @Test func sizeIsCheckedBeforeDecoding() throws {
        let limits = SendLimits(maximumSendBytes: 32)
        let big = send(ciphertext: Data(repeating: 7, count: 64))
        let payload: [UInt8] = try big.serializedBytes()
        #expect(throws: SendRefusal.tooLarge(bytes: payload.count, limit: 32)) { try ValidatedSend(decoding: payload, limits: limits) }
        #expect(throws: SendRefusal.tooLarge(bytes: payload.count, limit: 32)) { try ValidatedSend(validating: big, limits: limits) }
        // Garbage over the limit is "too large", not "not a Send": nothing was decoded.
        #expect(throws: SendRefusal.tooLarge(bytes: 33, limit: 32)) {
            try ValidatedSend(decoding: [UInt8](repeating: 0xFF, count: 33), limits: limits)
        }
        #expect(SendLimits().maximumSendBytes == 64 * 1024)
    }

    @Test func garbageIsNotASend() {
        #expect(throws: SendRefusal.notASend) { try ValidatedSend(decoding: [UInt8]([0xFF, 0xFF, 0xFF])) }
        // An empty payload decodes to an empty Send, which has no id.
        #expect(throws: SendRefusal.missingClientMessageID) { try ValidatedSend(decoding: [UInt8]()) }
    }

    @Test func refusalsMapToCodes() {
        #expect(SendRefusal.tooLarge(bytes: 2, limit: 1).code == .tooLarge)
        #expect(SendRefusal.tooLarge(bytes: 2, limit: 1).reasonCode == 0x97)
        #expect(SendRefusal.notASend.reasonCode == 0x99)
        #expect(SendRefusal.noCiphertext.code == .badRequest)
        #expect(SendRefusal.noCiphertext.reasonCode == 0x99)
    }
}
