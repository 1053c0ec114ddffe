import Foundation
import SwiftProtobuf
import Testing

@testable import RelayCore

@Suite struct GeneratedEnvelopeTests {
    @Test func sendRoundTripsThroughProtobuf() throws {
        var send = Relay_V1_Send()
        send.clientMessageID = "m-1"
        send.ciphertext = Data([1, 2, 3])
        send.deviceCiphertexts = ["bob-phone": Data([9])]
        let bytes: [UInt8] = try send.serializedBytes()
        let decoded = try Relay_V1_Send(serializedBytes: bytes)
        #expect(decoded == send)
    }

    @Test func privacySettingsTellUnsetFromOff() throws {
        var settings = Relay_V1_PrivacySettings()
        settings.lastSeen = "nobody"
        let decoded = try Relay_V1_PrivacySettings(serializedBytes: try settings.serializedBytes() as [UInt8])
        #expect(!decoded.hasReadReceipts)
        settings.readReceipts = false
        let off = try Relay_V1_PrivacySettings(serializedBytes: try settings.serializedBytes() as [UInt8])
        #expect(off.hasReadReceipts && !off.readReceipts)
    }
}
