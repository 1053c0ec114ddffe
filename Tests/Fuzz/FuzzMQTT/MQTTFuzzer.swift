// Fuzzes the MQTT framer and packet decoder (Sources/MQTT), both protocol
// versions. Input: one byte of options, then a byte stream as a client
// would send it. Every frame the framer cuts is decoded; a packet that
// decodes is written again and must decode to the same packet.
import FuzzDriver
import MQTT
import NIOCore

/// Largest packet sizes to frame under: the standard's maximum, and small
/// ones a server may set (MQTT 5.0 §3.1.2.11.4).
let packetSizes: [UInt32] = [MQTTLimits.maximumPacketSize, 1024, 64, 5]

func fuzzOne(_ raw: UnsafeRawBufferPointer) {
    var input = FuzzInput(raw)
    let options = input.byte()
    let version: ProtocolVersion = options & 1 == 0 ? .v311 : .v5
    let firstIsConnect = options & 2 != 0
    let maximumPacketSize = packetSizes[Int(options >> 2) % packetSizes.count]
    var stream = ByteBuffer(bytes: input.rest())
    var first = true
    while true {
        let frame: MQTTFrame?
        do {
            frame = try MQTTFramer.readFrame(from: &stream, maximumPacketSize: maximumPacketSize)
        } catch {
            return  // the connection would be closed here
        }
        guard let frame else { return }
        fuzzCheck(UInt64(frame.body.readableBytes) < UInt64(maximumPacketSize), "a frame larger than the maximum packet size")
        if first && firstIsConnect {
            _ = try? MQTTPacket.decodeConnect(frame)
        }
        first = false
        guard let packet = try? MQTTPacket.decode(frame, version: version) else { continue }
        checkRoundTrip(packet, version: version)
    }
}

/// What decodes, written again, decodes to itself (a CONNECT in its own version).
func checkRoundTrip(_ packet: MQTTPacket, version: ProtocolVersion) {
    var buffer = ByteBuffer()
    do {
        try packet.write(to: &buffer, version: version)
    } catch {
        return  // the encoder refuses more than the decoder (e.g. a 3.1.1 password without user name)
    }
    fuzzCheck(buffer.readableBytes == packet.encodedLength(version: version), "encodedLength disagrees with write for \(packet)")
    guard let frame = try? MQTTFramer.readFrame(from: &buffer, maximumPacketSize: MQTTLimits.maximumPacketSize) else {
        fatalError("a written packet does not frame: \(packet)")
    }
    let again: MQTTPacket
    do {
        again = try MQTTPacket.decode(frame, version: version)
    } catch {
        fatalError("a written packet does not decode (\(error)): \(packet)")
    }
    fuzzCheck(again == packet, "round trip changed \(packet) into \(again)")
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    var properties = MQTTProperties()
    properties.sessionExpiryInterval = 3600
    properties.receiveMaximum = 16
    properties.userProperties = [UserProperty(name: "k", value: "v")]
    var publishProperties = MQTTProperties()
    publishProperties.responseTopic = "d/alice-phone/a"
    publishProperties.correlationData = ByteBuffer(bytes: [1, 2, 3])
    publishProperties.topicAlias = 1
    publishProperties.contentType = "application/x-protobuf"
    var reason = MQTTProperties()
    reason.reasonString = "bye"
    let will = ConnectPacket.Will(topic: "w/alice", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce, retain: true)
    func packets(_ version: ProtocolVersion) -> [(String, MQTTPacket)] {
        [
            ("connect", .connect(ConnectPacket(protocolVersion: version, clientIdentifier: "alice-phone", username: "alice",
                                               password: ByteBuffer(string: "eyJhbGciOiJFZERTQSJ9.e30.c2ln"), will: will,
                                               properties: version == .v5 ? properties : .init()))),
            ("connack", .connack(ConnAckPacket(sessionPresent: true, reasonCode: .success, properties: version == .v5 ? properties : .init()))),
            ("publish0", .publish(PublishPacket(topicName: "t/alice~bob", payload: ByteBuffer(bytes: [8, 1])))),
            ("publish1", .publish(PublishPacket(topicName: "s/alice~bob", payload: ByteBuffer(bytes: [10, 2, 0x6d, 0x31, 18, 1, 0x78]),
                                                qos: .atLeastOnce, packetIdentifier: 7, properties: version == .v5 ? publishProperties : .init()))),
            ("publish2", .publish(PublishPacket(topicName: "q/devices.list", payload: ByteBuffer(), qos: .exactlyOnce, retain: true, dup: true, packetIdentifier: 9))),
            ("puback", .puback(AckPacket(packetIdentifier: 7, reasonCode: version == .v5 ? .notAuthorized : .success, properties: version == .v5 ? reason : .init()))),
            ("pubrec", .pubrec(AckPacket(packetIdentifier: 9))),
            ("pubrel", .pubrel(AckPacket(packetIdentifier: 9))),
            ("pubcomp", .pubcomp(AckPacket(packetIdentifier: 9))),
            ("subscribe", .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [
                Subscription(topicFilter: "d/alice-phone/#", options: SubscriptionOptions(qos: .atLeastOnce)),
                Subscription(topicFilter: "$share/g/x/+", options: SubscriptionOptions(noLocal: version == .v5, retainHandling: version == .v5 ? .doNotSend : .sendOnSubscribe)),
            ]))),
            ("suback", .suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1, .notAuthorized]))),
            ("unsubscribe", .unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: ["d/alice-phone/#"]))),
            ("unsuback", .unsuback(UnsubAckPacket(packetIdentifier: 2, reasonCodes: version == .v5 ? [.success] : []))),
            ("pingreq", .pingreq),
            ("pingresp", .pingresp),
            ("disconnect", .disconnect(DisconnectPacket(reasonCode: version == .v5 ? .serverShuttingDown : .normalDisconnection, properties: version == .v5 ? reason : .init()))),
        ] + (version == .v5 ? [("auth", .auth(AuthPacket(reasonCode: .success, properties: reason)))] : [])
    }
    var seeds: [(name: String, bytes: [UInt8])] = []
    for version in [ProtocolVersion.v311, .v5] {
        let options: UInt8 = version == .v5 ? 1 : 0
        var stream = ByteBuffer()
        for (name, packet) in packets(version) {
            var one = ByteBuffer()
            try packet.write(to: &one, version: version)
            try packet.write(to: &stream, version: version)
            let connectFlag: UInt8 = name == "connect" ? 2 : 0
            seeds.append(("v\(version.rawValue)-\(name)", [options | connectFlag] + Array(one.readableBytesView)))
        }
        seeds.append(("v\(version.rawValue)-session", [options | 2] + Array(stream.readableBytesView)))
    }
    return seeds
}
