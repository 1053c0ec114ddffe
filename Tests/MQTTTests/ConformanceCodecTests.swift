import MQTT
import NIOCore
import Testing

/// Codec MUSTs of MQTT 5.0 and 3.1.1 that no other test covered, each named
/// by its conformance statement (docs/conformance.md maps every statement to
/// its tests).
@Suite("Conformance statements at the codec")
struct ConformanceCodecTests {
    /// [MQTT-1.5.4-3] (3.1.1 [MQTT-1.5.3-3]): 0xEF 0xBB 0xBF is U+FEFF
    /// wherever it appears, and is neither skipped nor stripped.
    @Test(arguments: [ProtocolVersion.v311, .v5])
    func byteOrderMarkIsKeptInStrings(version: ProtocolVersion) throws {
        let props = version == .v5 ? "00" : ""
        let packet = try decode("30 \(version == .v5 ? "08" : "07") 00 05 EF BB BF 61 62 \(props)", version: version)
        guard case .publish(let publish) = packet else {
            Issue.record("not a PUBLISH: \(packet)")
            return
        }
        #expect(publish.topicName == "\u{FEFF}ab")
        #expect(publish.topicName.utf8.count == 5)
        try expectRoundTrip(packet, version: version)
    }

    /// [MQTT-3.2.2-1] (3.1.1 §3.2.2.1): the Connect Acknowledge Flags carry
    /// Session Present in bit 0 and nothing else.
    @Test(arguments: [ProtocolVersion.v311, .v5])
    func connAckFlagsHoldOnlySessionPresent(version: ProtocolVersion) throws {
        for present in [false, true] {
            let encoded = try encode(.connack(ConnAckPacket(sessionPresent: present)), version: version)
            let flags = encoded.getInteger(at: encoded.readerIndex + 2, as: UInt8.self)
            #expect(flags == (present ? 1 : 0))
        }
    }

    /// [MQTT-3.8.4-6], [MQTT-3.9.3-1], [MQTT-3.11.3-1] at the codec: SUBACK
    /// and UNSUBACK carry one code per filter, in order, with the packet
    /// identifier of the request ([MQTT-2.2.1-6]).
    @Test func subAckAndUnsubAckKeepCodesInOrder() throws {
        let codes: [ReasonCode] = [.grantedQoS2, .topicFilterInvalid, .grantedQoS0, .grantedQoS1]
        try expectRoundTrip(.suback(SubAckPacket(packetIdentifier: 513, reasonCodes: codes)), version: .v5)
        try expectRoundTrip(.unsuback(UnsubAckPacket(packetIdentifier: 514, reasonCodes: [.success, .noSubscriptionExisted, .topicFilterInvalid])), version: .v5)
        let v311 = try encode(.suback(SubAckPacket(packetIdentifier: 513, reasonCodes: [.grantedQoS2, .topicFilterInvalid, .grantedQoS0])), version: .v311)
        #expect(hex(v311) == "90 05 02 01 02 80 00", "3.1.1 SUBACK codes are 0, 1, 2 and 0x80 only ([MQTT-3.9.3-2])")
    }

    /// [MQTT-1.5.7-1]: both strings of a UTF-8 String Pair (a User Property)
    /// follow the UTF-8 string rules.
    @Test func userPropertyStringsAreCheckedAsUTF8() {
        // PUBLISH "t", properties: User Property ("a", <bad>) and (<bad>, "a").
        for pair in ["00 01 61 00 02 C0 80", "00 02 C0 80 00 01 61", "00 01 61 00 03 61 00 62"] {
            let propertyLength = bytes(pair).count + 1
            let remaining = 3 + 1 + propertyLength
            let packet = "30 \(hex(ByteBuffer(bytes: [UInt8(remaining)]))) 00 01 74 \(hex(ByteBuffer(bytes: [UInt8(propertyLength)]))) 26 \(pair)"
            #expect(throws: MQTTError.self, "\(pair)") { try decode(packet, version: .v5) }
        }
    }

    /// [MQTT-3.1.3-11], [MQTT-3.1.3-12], [MQTT-3.3.2-13], [MQTT-3.10.3-1]
    /// (3.1.1 [MQTT-3.1.3-10], [MQTT-3.1.3-11], [MQTT-3.10.3-1]): the Will
    /// Topic, User Name, Response Topic, Reason String and UNSUBSCRIBE
    /// filters are UTF-8 strings; ill-formed UTF-8 in any is malformed.
    @Test func everyStringFieldIsCheckedAsUTF8() {
        let bad = "00 02 C0 80"  // an overlong NUL
        let cases: [(String, ProtocolVersion, String)] = [
            ("will topic", .v311, connect(level: 4, flags: 0x06, payload: "00 01 61 \(bad) 00 00")),
            ("will topic", .v5, connect(level: 5, flags: 0x06, payload: "00 01 61 00 \(bad) 00 00")),
            ("user name", .v311, connect(level: 4, flags: 0x82, payload: "00 01 61 \(bad)")),
            ("user name", .v5, connect(level: 5, flags: 0x82, payload: "00 01 61 \(bad)")),
            ("response topic", .v5, packet(0x30, "00 01 74 05 08 \(bad)")),
            ("reason string", .v5, packet(0x40, "00 01 00 05 1F \(bad)")),
            ("unsubscribe filter", .v311, packet(0xA2, "00 01 \(bad)")),
            ("unsubscribe filter", .v5, packet(0xA2, "00 01 00 \(bad)")),
        ]
        for (field, version, hex) in cases {
            do {
                _ = try decode(hex, version: version)
                Issue.record("\(field) (\(version)): accepted")
            } catch {
                #expect(error.kind == .malformedPacket, "\(field) (\(version))")
            }
        }
    }
}
