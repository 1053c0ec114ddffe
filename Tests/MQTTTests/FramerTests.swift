import MQTT
import NIOCore
import Testing

@Suite("Framer")
struct FramerTests {
    /// A stream of packets of every type and a range of sizes, and how it decodes.
    static func stream(version: ProtocolVersion) throws -> (ByteBuffer, [MQTTPacket]) {
        var packets: [MQTTPacket] = [
            .connect(ConnectPacket(protocolVersion: version, clientIdentifier: "framer", username: "u", password: ByteBuffer(string: "p"))),
            .connack(ConnAckPacket(sessionPresent: true)),
            .pingreq,
            .pingresp,
            .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "a/#", options: .init(qos: .exactlyOnce))])),
            .suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS2])),
            .unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: ["a/#"])),
            .puback(AckPacket(packetIdentifier: 3)),
            .pubrec(AckPacket(packetIdentifier: 4)),
            .pubrel(AckPacket(packetIdentifier: 4)),
            .pubcomp(AckPacket(packetIdentifier: 4)),
            .disconnect(DisconnectPacket()),
        ]
        for size in [0, 1, 100, 126, 127, 128, 200, 16_383, 16_384, 20_000] {
            packets.append(.publish(PublishPacket(
                topicName: "t/\(size)",
                payload: ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0) }),
                qos: size % 2 == 0 ? .atLeastOnce : .atMostOnce,
                packetIdentifier: size % 2 == 0 ? UInt16(size + 1) : nil
            )))
        }
        if version == .v5 {
            packets.append(.auth(AuthPacket(reasonCode: .continueAuthentication)))
            packets.append(.publish(PublishPacket(topicName: "p", payload: ByteBuffer(), properties: Sample.publish)))
        }
        var stream = ByteBuffer()
        for packet in packets { try packet.write(to: &stream, version: version) }
        return (stream, packets)
    }

    /// Feeds `stream` in pieces of the sizes `nextChunk` picks, decoding as frames complete.
    static func feed(_ stream: ByteBuffer, version: ProtocolVersion, nextChunk: () -> Int) throws -> [MQTTPacket] {
        var source = stream
        var accumulated = ByteBuffer()
        var decoded: [MQTTPacket] = []
        while source.readableBytes > 0 {
            var chunk = source.readSlice(length: min(nextChunk(), source.readableBytes))!
            accumulated.writeBuffer(&chunk)
            while true {
                let before = accumulated
                guard let frame = try MQTTFramer.readFrame(from: &accumulated, maximumPacketSize: MQTTLimits.maximumPacketSize) else {
                    #expect(accumulated == before, "an incomplete frame leaves the buffer untouched")
                    #expect(accumulated.readerIndex == before.readerIndex)
                    break
                }
                decoded.append(try MQTTPacket.decode(frame, version: version))
            }
        }
        #expect(accumulated.readableBytes == 0)
        return decoded
    }

    @Test(arguments: [ProtocolVersion.v311, .v5])
    func byteByByte(version: ProtocolVersion) throws {
        let (stream, packets) = try Self.stream(version: version)
        #expect(try Self.feed(stream, version: version) { 1 } == packets)
    }

    @Test(arguments: [ProtocolVersion.v311, .v5])
    func randomSplits(version: ProtocolVersion) throws {
        let (stream, packets) = try Self.stream(version: version)
        for seed in UInt64(1)...20 {
            var random = SplitMix64(seed: seed)
            let maximum = [3, 17, 200, 5000][Int(seed % 4)]
            #expect(try Self.feed(stream, version: version) { Int.random(in: 1...maximum, using: &random) } == packets, "seed \(seed)")
        }
    }

    @Test func wholeStreamAtOnce() throws {
        let (stream, packets) = try Self.stream(version: .v5)
        #expect(try Self.feed(stream, version: .v5) { .max } == packets)
    }

    @Test func frameBodyIsTheRemainingLength() throws {
        var input = buffer("32 09 00 03 61 2F 62 00 0A 68 69 C0 00")
        let frame = try #require(try MQTTFramer.readFrame(from: &input, maximumPacketSize: 100))
        #expect(frame.header == 0x32)
        #expect(frame.packetType == .publish)
        #expect(frame.flags == 0x02)
        #expect(hex(frame.body) == "00 03 61 2F 62 00 0A 68 69")
        #expect(hex(input) == "C0 00")
    }

    @Test func incompleteLeavesBufferUntouched() throws {
        for prefix in ["", "30", "30 FF", "30 FF FF", "30 FF FF FF", "30 05 00 01", "C0"] {
            var input = buffer(prefix)
            let before = input
            #expect(try MQTTFramer.readFrame(from: &input, maximumPacketSize: MQTTLimits.maximumPacketSize) == nil)
            #expect(input == before)
            #expect(input.readerIndex == before.readerIndex)
        }
    }

    @Test func remainingLengthOverFourBytes() {
        // The fourth byte's continuation bit is enough: no fifth byte needed.
        for input in ["30 FF FF FF FF", "30 80 80 80 80 01", "C0 FF FF FF 80"] {
            var buffer = buffer(input)
            do {
                _ = try MQTTFramer.readFrame(from: &buffer, maximumPacketSize: MQTTLimits.maximumPacketSize)
                Issue.record("accepted \(input)")
            } catch {
                #expect(error.kind == .malformedPacket)
            }
        }
    }

    @Test func packetTypeZero() {
        var input = buffer("00")
        do {
            _ = try MQTTFramer.readFrame(from: &input, maximumPacketSize: 100)
            Issue.record("accepted type 0")
        } catch {
            #expect(error.kind == .malformedPacket)
        }
    }

    @Test func tooLargeBeforeTheBodyArrives() throws {
        // 1 + 2 + 200 = 203 bytes.
        var input = buffer("30 C8 01")
        #expect(throws: MQTTError.self) { try MQTTFramer.readFrame(from: &input, maximumPacketSize: 202) }
        do {
            _ = try MQTTFramer.readFrame(from: &input, maximumPacketSize: 202)
        } catch {
            #expect(error.kind == .packetTooLarge)
        }
        // Exactly the limit is fine (and incomplete here).
        #expect(try MQTTFramer.readFrame(from: &input, maximumPacketSize: 203) == nil)
        // The largest Remaining Length against the smallest limit.
        var huge = buffer("30 FF FF FF 7F")
        do {
            _ = try MQTTFramer.readFrame(from: &huge, maximumPacketSize: MQTTLimits.maximumPacketSize - 1)
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .packetTooLarge)
        }
        #expect(try MQTTFramer.readFrame(from: &huge, maximumPacketSize: MQTTLimits.maximumPacketSize) == nil)
        // A whole PINGREQ is 2 bytes.
        var ping = buffer("C0 00")
        #expect(throws: MQTTError.self) { try MQTTFramer.readFrame(from: &ping, maximumPacketSize: 1) }
        #expect(try MQTTFramer.readFrame(from: &ping, maximumPacketSize: 2) != nil)
    }

    @Test func frameDecoder() throws {
        var decoder = MQTTFrameDecoder(maximumPacketSize: 10)
        var input = buffer("C0 00 D0")
        #expect(try decoder.decode(buffer: &input)?.packetType == .pingreq)
        #expect(try decoder.decode(buffer: &input) == nil)
        input.writeBytes([0x00])
        #expect(try decoder.decodeLast(buffer: &input, seenEOF: true)?.packetType == .pingresp)
        var large = buffer("30 0A")
        #expect(throws: MQTTError.self) { try decoder.decode(buffer: &large) }
    }
}
