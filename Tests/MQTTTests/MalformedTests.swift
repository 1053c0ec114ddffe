import MQTT
import NIOCore
import Testing

/// Every way a packet can be refused, with the error kind it gets.
@Suite("Malformed and forbidden packets")
struct MalformedTests {
    @Test func fixedHeaderFlags() {
        for version in [ProtocolVersion.v311, .v5] {
            expectDecodeError(.malformedPacket, "60 02 00 01", version: version) // PUBREL needs 0010
            expectDecodeError(.malformedPacket, "63 02 00 01", version: version)
            expectDecodeError(.malformedPacket, packet(0x80, "00 01 00 01 61 00"), version: version) // SUBSCRIBE
            expectDecodeError(.malformedPacket, packet(0x83, "00 01 00 01 61 00"), version: version)
            expectDecodeError(.malformedPacket, packet(0xA0, "00 01 00 01 61"), version: version) // UNSUBSCRIBE
            expectDecodeError(.malformedPacket, "42 02 00 01", version: version) // PUBACK
            expectDecodeError(.malformedPacket, "52 02 00 01", version: version)
            expectDecodeError(.malformedPacket, "71 02 00 01", version: version)
            expectDecodeError(.malformedPacket, "C1 00", version: version)
            expectDecodeError(.malformedPacket, "D8 00", version: version)
            expectDecodeError(.malformedPacket, "E2 00", version: version)
            expectDecodeError(.malformedPacket, "21 02 00 00", version: version)
            expectDecodeError(.malformedPacket, "B4 02 00 01", version: version)
            expectDecodeError(.malformedPacket, "94 03 00 01 00", version: version)
            expectDecodeError(.malformedPacket, "11" + connect(level: version.rawValue).dropFirst(2), version: version)
        }
        expectDecodeError(.malformedPacket, "F1 00", version: .v5)
    }

    @Test func publishFlags() {
        for version in [ProtocolVersion.v311, .v5] {
            let props = version == .v5 ? "00" : ""
            expectDecodeError(.malformedPacket, packet(0x36, "00 01 74 00 01 \(props)"), version: version) // QoS 3
            expectDecodeError(.malformedPacket, packet(0x38, "00 01 74 \(props)"), version: version) // DUP with QoS 0
            expectDecodeError(.malformedPacket, packet(0x39, "00 01 74 \(props)"), version: version)
        }
    }

    @Test func reservedPacketTypes() {
        expectDecodeError(.malformedPacket, "00 00", version: .v5)
        expectDecodeError(.malformedPacket, "F0 00", version: .v311) // AUTH is reserved in 3.1.1
    }

    @Test func trailingBytes() {
        expectDecodeError(.malformedPacket, "C0 01 00", version: .v5)
        expectDecodeError(.malformedPacket, "D0 01 00", version: .v311)
        expectDecodeError(.malformedPacket, "40 03 00 01 00", version: .v311) // 3.1.1 PUBACK is exactly 2 bytes
        expectDecodeError(.malformedPacket, "62 03 00 01 00", version: .v311)
        expectDecodeError(.malformedPacket, "E0 01 00", version: .v311)
        expectDecodeError(.malformedPacket, "B0 03 00 01 00", version: .v311)
        expectDecodeError(.malformedPacket, "20 03 00 00 00", version: .v311)
        expectDecodeError(.malformedPacket, "20 04 00 00 00 00", version: .v5)
        expectDecodeError(.malformedPacket, "40 05 00 01 00 00 00", version: .v5)
        expectDecodeError(.malformedPacket, "E0 03 00 00 00", version: .v5)
        expectDecodeError(.malformedPacket, "F0 03 00 00 00", version: .v5)
        expectDecodeError(.malformedPacket, connect(level: 4, payload: "00 01 61 00"), version: .v311)
        expectDecodeError(.malformedPacket, connect(level: 5, payload: "00 01 61 00"), version: .v5)
    }

    @Test func truncatedPackets() {
        expectDecodeError(.malformedPacket, "40 01 00", version: .v5)
        expectDecodeError(.malformedPacket, "40 00", version: .v311)
        expectDecodeError(.malformedPacket, "30 01 00", version: .v311) // topic length cut
        expectDecodeError(.malformedPacket, "30 03 00 05 61", version: .v311) // topic longer than the packet
        expectDecodeError(.malformedPacket, "32 03 00 01 61", version: .v311) // no packet identifier
        expectDecodeError(.malformedPacket, "30 03 00 01 61", version: .v5) // no property length
        expectDecodeError(.malformedPacket, "20 02 00 00", version: .v5) // CONNACK needs a property length in 5.0
        expectDecodeError(.malformedPacket, "20 01 00", version: .v311)
        expectDecodeError(.malformedPacket, packet(0x10, "00 04 4D 51 54 54 04 02 00"), version: .v311)
        expectDecodeError(.malformedPacket, connect(level: 4, payload: ""), version: .v311)
        expectDecodeError(.malformedPacket, connect(level: 4, flags: 0x06, payload: "00 01 61 00 01 77"), version: .v311) // will payload missing
        expectDecodeError(.malformedPacket, connect(level: 4, flags: 0x82, payload: "00 01 61"), version: .v311) // user name missing
        expectDecodeError(.malformedPacket, connect(level: 5, flags: 0x42, payload: "00 01 61 00 05 61"), version: .v5) // password cut
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 01 61"), version: .v311) // options byte missing
        expectDecodeError(.malformedPacket, packet(0xA2, "00 01 00 05 61"), version: .v311)
    }

    @Test func propertyErrors() {
        // Property Length past the end of the packet.
        expectDecodeError(.malformedPacket, "30 05 00 01 74 05 01", version: .v5)
        expectDecodeError(.malformedPacket, "40 05 00 01 00 09 1F", version: .v5)
        // Property Length as a VBI over 4 bytes.
        expectDecodeError(.malformedPacket, "30 08 00 01 74 FF FF FF FF 01", version: .v5)
        // A property value cut by the Property Length.
        expectDecodeError(.malformedPacket, "30 07 00 01 74 02 02 00 00", version: .v5)
        // Unknown identifiers, including one in a multi-byte VBI.
        expectDecodeError(.malformedPacket, "30 06 00 01 74 02 05 00", version: .v5)
        expectDecodeError(.malformedPacket, "30 06 00 01 74 02 00 00", version: .v5)
        expectDecodeError(.malformedPacket, "30 07 00 01 74 03 81 01 00", version: .v5)
        // Allowed elsewhere, not in this packet.
        expectDecodeError(.protocolError, "30 07 00 01 74 03 21 00 01", version: .v5) // Receive Maximum in PUBLISH
        expectDecodeError(.protocolError, connect(properties: "03 23 00 01"), version: .v5) // Topic Alias in CONNECT
        expectDecodeError(.protocolError, connect(properties: "02 24 01"), version: .v5) // Maximum QoS in CONNECT
        expectDecodeError(.protocolError, "40 06 00 01 00 02 01 01", version: .v5) // Payload Format in PUBACK
        expectDecodeError(.protocolError, "E0 04 00 02 13 00", version: .v5) // Server Keep Alive, value cut: not allowed comes first
        expectDecodeError(.protocolError, "E0 05 00 03 13 00 05", version: .v5) // Server Keep Alive in DISCONNECT
        expectDecodeError(.protocolError, packet(0x82, "00 01 05 11 00 00 00 01 00 01 61 00"), version: .v5) // Session Expiry in SUBSCRIBE
        expectDecodeError(.protocolError, packet(0xA2, "00 01 02 0B 01 00 01 61"), version: .v5) // Subscription Identifier in UNSUBSCRIBE
        expectDecodeError(.protocolError, connect(flags: 0x06, payload: "00 01 61 03 21 00 01 00 01 77 00 00"), version: .v5) // Receive Maximum in Will
        expectDecodeError(.protocolError, "F0 05 00 03 11 00 00", version: .v5) // cut Session Expiry is still not allowed in AUTH
        // Twice where once is the rule.
        expectDecodeError(.protocolError, connect(properties: "06 21 00 01 21 00 02"), version: .v5)
        expectDecodeError(.protocolError, "30 0A 00 01 74 06 02 00 00 00 01 02", version: .v5) // second Message Expiry, value cut: repeated comes first
        expectDecodeError(.protocolError, packet(0x30, "00 01 74 0A 02 00 00 00 01 02 00 00 00 02"), version: .v5)
        expectDecodeError(.protocolError, packet(0x82, "00 01 04 0B 01 0B 02 00 01 61 00"), version: .v5)
        expectDecodeError(.protocolError, "40 0B 00 01 00 07 1F 00 01 61 1F 00 01", version: .v5)
    }

    @Test func repeatablePropertiesMayRepeat() throws {
        let twoUsers = try decode(packet(0x30, "00 01 74 0C 26 00 01 61 00 00 26 00 01 61 00 00"), version: .v5)
        guard case .publish(let publish) = twoUsers else { Issue.record("not a PUBLISH"); return }
        #expect(publish.properties.userProperties == [UserProperty(name: "a", value: ""), UserProperty(name: "a", value: "")])
        let twoSubscriptionIdentifiers = try decode(packet(0x30, "00 01 74 04 0B 01 0B 02"), version: .v5)
        guard case .publish(let publish) = twoSubscriptionIdentifiers else { Issue.record("not a PUBLISH"); return }
        #expect(publish.properties.subscriptionIdentifiers == [1, 2])
    }

    @Test func propertyValues() {
        expectDecodeError(.protocolError, connect(properties: "03 21 00 00"), version: .v5) // Receive Maximum 0
        expectDecodeError(.protocolError, connect(properties: "05 27 00 00 00 00"), version: .v5) // Maximum Packet Size 0
        expectDecodeError(.protocolError, connect(properties: "02 17 02"), version: .v5) // Request Problem Information 2
        expectDecodeError(.protocolError, connect(properties: "02 19 02"), version: .v5)
        expectDecodeError(.protocolError, packet(0x30, "00 01 74 02 01 02"), version: .v5) // Payload Format Indicator 2
        expectDecodeError(.protocolError, packet(0x30, "00 01 74 02 0B 00"), version: .v5) // Subscription Identifier 0
        expectDecodeError(.protocolError, packet(0x20, "00 00 02 24 02"), version: .v5) // Maximum QoS 2
        expectDecodeError(.protocolError, connect(properties: "04 16 00 01 00"), version: .v5) // Authentication Data without Method
        expectDecodeError(.topicAliasInvalid, packet(0x30, "00 01 74 03 23 00 00"), version: .v5)
        expectDecodeError(.protocolError, packet(0x30, "00 01 74 06 08 00 03 61 2F 2B"), version: .v5) // Response Topic with '+'
        expectDecodeError(.malformedPacket, packet(0x30, "00 01 74 05 03 00 02 C0 80"), version: .v5) // Content Type overlong UTF-8
        expectDecodeError(.malformedPacket, packet(0x30, "00 01 74 04 26 00 01 61"), version: .v5) // user property without value
    }

    @Test func userPropertyLimit() {
        let one = "26 00 00 00 00"
        let limit = MQTTLimits.maximumUserProperties
        let properties = { (count: Int) in
            let body = Array(repeating: one, count: count).joined(separator: " ")
            var length = count * 5
            var vbi: [UInt8] = []
            repeat {
                var byte = UInt8(length & 0x7F)
                length >>= 7
                if length > 0 { byte |= 0x80 }
                vbi.append(byte)
            } while length > 0
            return hex(ByteBuffer(bytes: vbi)) + " " + body
        }
        #expect(throws: Never.self) { try decode(packet(0x30, "00 01 74 " + properties(limit)), version: .v5) }
        expectDecodeError(.protocolError, packet(0x30, "00 01 74 " + properties(limit + 1)), version: .v5)
    }

    @Test func topicFilterLimit() {
        let limit = MQTTLimits.maximumTopicFiltersPerPacket
        let filters = { (count: Int) in Array(repeating: "00 01 61 00", count: count).joined(separator: " ") }
        #expect(throws: Never.self) { try decode(packet(0x82, "00 01 " + filters(limit)), version: .v311) }
        expectDecodeError(.protocolError, packet(0x82, "00 01 " + filters(limit + 1)), version: .v311)
        let unsubscribeFilters = { (count: Int) in Array(repeating: "00 01 61", count: count).joined(separator: " ") }
        #expect(throws: Never.self) { try decode(packet(0xA2, "00 01 00 " + unsubscribeFilters(limit)), version: .v5) }
        expectDecodeError(.protocolError, packet(0xA2, "00 01 00 " + unsubscribeFilters(limit + 1)), version: .v5)
    }

    @Test func utf8() {
        let bad = [
            "C0 80", // overlong NUL
            "C1 BF", // overlong
            "E0 80 AF", // overlong '/'
            "ED A0 80", // surrogate
            "F4 90 80 80", // above U+10FFFF
            "F5 80 80 80",
            "FF",
            "80", // lone continuation
            "E2 82", // cut
            "61 00 62", // U+0000
            "61 62 63 64 65 66 67 00", // U+0000 in the eight-byte fast path
            "61 62 63 64 65 66 67 68 C3", // cut after the fast path
        ]
        for string in bad {
            let count = bytes(string).count
            let length = hex(ByteBuffer(bytes: [0, UInt8(count)]))
            for version in [ProtocolVersion.v311, .v5] {
                let props = version == .v5 ? "00" : ""
                expectDecodeError(.malformedPacket, packet(0x30, "\(length) \(string) \(props)"), version: version)
                expectDecodeError(.malformedPacket, packet(0x82, "00 01 \(props) \(length) \(string) 00"), version: version)
                expectDecodeError(.malformedPacket, connect(level: version.rawValue, payload: "\(length) \(string)"), version: version)
            }
        }
        let good = ["E2 82 AC", "F0 9F 92 AC", "C3 A9", "EF BF BF", "F4 8F BF BF", "ED 9F BF", "01 7F"]
        for string in good {
            let count = bytes(string).count
            let length = hex(ByteBuffer(bytes: [0, UInt8(count)]))
            #expect(throws: Never.self, "\(string)") { try decode(packet(0x30, "\(length) \(string) 00"), version: .v5) }
        }
    }

    @Test func packetIdentifierZero() {
        for version in [ProtocolVersion.v311, .v5] {
            let props = version == .v5 ? "00" : ""
            expectDecodeError(.protocolError, "40 02 00 00", version: version)
            expectDecodeError(.protocolError, "50 02 00 00", version: version)
            expectDecodeError(.protocolError, "62 02 00 00", version: version)
            expectDecodeError(.protocolError, "70 02 00 00", version: version)
            expectDecodeError(.protocolError, packet(0x32, "00 01 74 00 00 \(props)"), version: version)
            // SUBSCRIBE and UNSUBSCRIBE: Malformed Packet, as mosquitto answers (docs/conformance.md).
            expectDecodeError(.malformedPacket, packet(0x82, "00 00 \(props) 00 01 61 00"), version: version)
            expectDecodeError(.malformedPacket, packet(0xA2, "00 00 \(props) 00 01 61"), version: version)
        }
    }

    @Test func subscribe() {
        // No topic filters: Malformed Packet (docs/conformance.md).
        expectDecodeError(.malformedPacket, "82 02 00 01", version: .v311)
        expectDecodeError(.malformedPacket, "82 03 00 01 00", version: .v5)
        expectDecodeError(.malformedPacket, "A2 02 00 01", version: .v311)
        expectDecodeError(.malformedPacket, "A2 03 00 01 00", version: .v5)
        // Subscription options.
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 00 01 61 40"), version: .v5)
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 00 01 61 80"), version: .v5)
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 00 01 61 03"), version: .v5)
        expectDecodeError(.protocolError, packet(0x82, "00 01 00 00 01 61 30"), version: .v5)
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 01 61 04"), version: .v311)
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 01 61 10"), version: .v311)
        expectDecodeError(.malformedPacket, packet(0x82, "00 01 00 01 61 03"), version: .v311)
        // No Local on a shared subscription (MQTT 5.0 §3.8.3.1).
        expectDecodeError(.protocolError, packet(0x82, "00 01 00 \("$share/g/a".mqttHex) 04"), version: .v5)
    }

    @Test func connectProtocol() {
        // MQIsdp goes with level 3 (MQTT 3.1) only, and MQTT with 4 and 5.
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "MQIsdp", level: 4, properties: ""), version: .v311)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "MQIsdp", level: 5, properties: ""), version: .v5)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "MQTT", level: 3, properties: ""), version: .v311)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "MQTT", level: 6, properties: ""), version: .v5)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "MQTT", level: 0, properties: ""), version: .v5)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "MQTX", level: 4), version: .v311)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "mqtt", level: 5), version: .v5)
        expectDecodeError(.unsupportedProtocolVersion, connect(name: "", level: 5), version: .v5)
    }

    @Test func mqtt31ConnectDecodes() throws {
        var input = buffer(connect(name: "MQIsdp", level: 3, properties: ""))
        let frame = try #require(try MQTTFramer.readFrame(from: &input, maximumPacketSize: 100))
        let decoded = try MQTTPacket.decodeConnect(frame)
        #expect(decoded.protocolVersion == .v31)
        #expect(decoded.clientIdentifier == "a")
        // Password without user name: malformed as in 3.1.1.
        expectDecodeError(.malformedPacket, connect(name: "MQIsdp", level: 3, flags: 0x42, payload: "00 01 61 00 01 70"), version: .v311)
    }

    @Test func connectFlags() {
        for level: UInt8 in [4, 5] {
            let version = ProtocolVersion(rawValue: level)!
            expectDecodeError(.malformedPacket, connect(level: level, flags: 0x03), version: version) // reserved bit
            expectDecodeError(.malformedPacket, connect(level: level, flags: 0x0A), version: version) // will QoS without will
            expectDecodeError(.malformedPacket, connect(level: level, flags: 0x12), version: version)
            expectDecodeError(.malformedPacket, connect(level: level, flags: 0x22), version: version) // will retain without will
            let willProps = level == 5 ? "00" : ""
            expectDecodeError(.malformedPacket, connect(level: level, flags: 0x1E, payload: "00 01 61 \(willProps) 00 01 77 00 00"), version: version) // will QoS 3
            expectDecodeError(.topicNameInvalid, connect(level: level, flags: 0x06, payload: "00 01 61 \(willProps) 00 01 23 00 00"), version: version)
            expectDecodeError(.topicNameInvalid, connect(level: level, flags: 0x06, payload: "00 01 61 \(willProps) 00 00 00 00"), version: version)
        }
        // Password without user name: malformed in 3.1.1, allowed in 5.0.
        expectDecodeError(.malformedPacket, connect(level: 4, flags: 0x42, payload: "00 01 61 00 01 70"), version: .v311)
        #expect(throws: Never.self) { try decode(connect(level: 5, flags: 0x42, payload: "00 01 61 00 01 70"), version: .v5) }
    }

    @Test func connectClientIdentifierLength() {
        let long = String(repeating: "x", count: MQTTLimits.maximumClientIdentifierLength + 1)
        expectDecodeError(.clientIdentifierNotValid, connect(level: 4, payload: long.mqttHex), version: .v311)
        let longest = String(repeating: "x", count: MQTTLimits.maximumClientIdentifierLength)
        #expect(throws: Never.self) { try decode(connect(level: 4, payload: longest.mqttHex), version: .v311) }
    }

    @Test func decodeConnectRefusesOtherPackets() throws {
        var input = buffer("C0 00")
        let frame = try #require(try MQTTFramer.readFrame(from: &input, maximumPacketSize: 100))
        #expect(throws: MQTTError.self) { try MQTTPacket.decodeConnect(frame) }
        do {
            _ = try MQTTPacket.decodeConnect(frame)
        } catch {
            #expect(error.kind == .protocolError)
        }
        var connectInput = buffer(connect(level: 4))
        let connectFrame = try #require(try MQTTFramer.readFrame(from: &connectInput, maximumPacketSize: 100))
        #expect(try MQTTPacket.decodeConnect(connectFrame).protocolVersion == .v311)
    }

    @Test func publishTopic() {
        expectDecodeError(.topicNameInvalid, packet(0x30, "00 03 61 2F 2B"), version: .v311)
        expectDecodeError(.topicNameInvalid, packet(0x30, "00 01 23 00"), version: .v5)
        expectDecodeError(.topicNameInvalid, packet(0x30, "00 00"), version: .v311)
        expectDecodeError(.protocolError, packet(0x30, "00 00 00"), version: .v5)  // empty, no alias: §3.3.4
        #expect(throws: Never.self) { try decode(packet(0x30, "00 00 03 23 00 01"), version: .v5) }
    }

    @Test func reasonCodes() {
        expectDecodeError(.protocolError, "40 03 00 01 04", version: .v5) // 0x04 is not a PUBACK code
        expectDecodeError(.protocolError, "62 03 00 01 10", version: .v5)
        expectDecodeError(.protocolError, "E0 01 18", version: .v5)
        expectDecodeError(.protocolError, "F0 01 04", version: .v5)
        expectDecodeError(.protocolError, "20 03 00 01 00", version: .v5)
        expectDecodeError(.protocolError, "90 04 00 01 00 03", version: .v5)
        expectDecodeError(.malformedPacket, "90 03 00 01 03", version: .v311)
        expectDecodeError(.malformedPacket, "90 03 00 01 87", version: .v311)
        expectDecodeError(.protocolError, "B0 04 00 01 00 01", version: .v5)
        expectDecodeError(.malformedPacket, "20 02 00 06", version: .v311)
        expectDecodeError(.malformedPacket, "20 02 02 00", version: .v311) // reserved acknowledge flags
    }

    @Test func writeRefusesOverlongFields() throws {
        let long = String(repeating: "a", count: 65_536)
        var out = ByteBuffer(bytes: [1, 2, 3])
        let packets: [MQTTPacket] = [
            .publish(PublishPacket(topicName: long, payload: ByteBuffer())),
            .connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: long)),
            .connect(ConnectPacket(protocolVersion: .v311, clientIdentifier: "a", password: ByteBuffer(repeating: 0, count: 65_536))),
            .connect(ConnectPacket(protocolVersion: .v311, clientIdentifier: "a", username: "u", password: ByteBuffer(repeating: 0, count: 65_536))),
            .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: long)])),
            .disconnect(DisconnectPacket(properties: { var p = MQTTProperties(); p.reasonString = long; return p }())),
            .puback(AckPacket(packetIdentifier: 1, properties: { var p = MQTTProperties(); p.userProperties = [UserProperty(name: "a", value: long)]; return p }())),
        ]
        for packet in packets {
            do {
                try packet.write(to: &out, version: .v5)
                Issue.record("wrote \(packet.type) with a field over 65,535 bytes")
            } catch {
                #expect(error.kind == .malformedPacket, "\(packet.type)")
            }
            #expect(out == ByteBuffer(bytes: [1, 2, 3]), "nothing is appended on error")
        }
    }

    @Test func writeRefusesImpossiblePackets() {
        var out = ByteBuffer()
        let cases: [(MQTTPacket, ProtocolVersion, MQTTError.Kind)] = [
            (.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce)), .v5, .malformedPacket),
            (.connect(ConnectPacket(protocolVersion: .v311, clientIdentifier: "a", password: ByteBuffer())), .v311, .malformedPacket),
            (.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [])), .v5, .protocolError),
            (.unsubscribe(UnsubscribePacket(packetIdentifier: 1, topicFilters: [])), .v311, .protocolError),
            (.auth(AuthPacket()), .v311, .protocolError),
        ]
        for (packet, version, kind) in cases {
            do {
                try packet.write(to: &out, version: version)
                Issue.record("wrote \(packet)")
            } catch {
                #expect(error.kind == kind, "\(packet.type)")
            }
            #expect(out.readableBytes == 0)
        }
    }
}
