import MQTT
import NIOCore
import Testing

/// Byte-exact packets written by hand from the standards.
@Suite("Byte vectors")
struct VectorTests {
    /// Checks that `packet` encodes to `hex` and `hex` decodes to `packet`.
    func check(_ packet: MQTTPacket, _ expected: String, version: ProtocolVersion, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let encoded = try encode(packet, version: version, sourceLocation: sourceLocation)
        #expect(hex(encoded) == hex(buffer(expected)), sourceLocation: sourceLocation)
        #expect(try decode(expected, version: version) == packet, sourceLocation: sourceLocation)
    }

    /// MQTT 3.1.1 §3.1.2.10: protocol name, level 4, flags 0xCE (user name,
    /// password, will QoS 1, will flag, clean session), keep alive 10.
    @Test func connectV311() throws {
        let packet = ConnectPacket(
            protocolVersion: .v311,
            clientIdentifier: "c",
            cleanStart: true,
            keepAlive: 10,
            username: "u",
            password: ByteBuffer(string: "p"),
            will: .init(topic: "w", payload: ByteBuffer(string: "x"), qos: .atLeastOnce)
        )
        try check(.connect(packet), """
            10 19
            00 04 4D 51 54 54 04 CE 00 0A
            00 01 63  00 01 77  00 01 78  00 01 75  00 01 70
            """, version: .v311)
    }

    /// MQTT 5.0 §3.1.2.11 example: CONNECT with Session Expiry Interval 10.
    @Test func connectV5() throws {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 10
        let packet = ConnectPacket(protocolVersion: .v5, clientIdentifier: "id", cleanStart: true, keepAlive: 10, properties: properties)
        try check(.connect(packet), "10 14 00 04 4D 51 54 54 05 02 00 0A 05 11 00 00 00 0A 00 02 69 64", version: .v5)
    }

    @Test func ping() throws {
        for version in [ProtocolVersion.v311, .v5] {
            try check(.pingreq, "C0 00", version: version)
            try check(.pingresp, "D0 00", version: version)
        }
    }

    @Test func connack() throws {
        try check(.connack(ConnAckPacket()), "20 02 00 00", version: .v311)
        try check(.connack(ConnAckPacket(sessionPresent: true)), "20 02 01 00", version: .v311)
        try check(.connack(ConnAckPacket(reasonCode: .notAuthorized)), "20 02 00 05", version: .v311)
        try check(.connack(ConnAckPacket(reasonCode: .unsupportedProtocolVersion)), "20 02 00 01", version: .v311)
        try check(.connack(ConnAckPacket()), "20 03 00 00 00", version: .v5)
        var properties = MQTTProperties()
        properties.receiveMaximum = 20
        properties.topicAliasMaximum = 10
        properties.maximumQoS = 1
        try check(
            .connack(ConnAckPacket(properties: properties)),
            "20 0B 00 00 08 21 00 14 22 00 0A 24 01",
            version: .v5
        )
        try check(.connack(ConnAckPacket(reasonCode: .badUserNameOrPassword)), "20 03 00 86 00", version: .v5)
    }

    @Test func publish() throws {
        let qos1 = PublishPacket(topicName: "a/b", payload: ByteBuffer(string: "hi"), qos: .atLeastOnce, packetIdentifier: 10)
        try check(.publish(qos1), "32 09 00 03 61 2F 62 00 0A 68 69", version: .v311)
        try check(.publish(qos1), "32 0A 00 03 61 2F 62 00 0A 00 68 69", version: .v5)
        let qos0 = PublishPacket(topicName: "t", payload: ByteBuffer(string: "hi"), retain: true)
        try check(.publish(qos0), "31 06 00 01 74 00 68 69", version: .v5)
        let dup = PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .exactlyOnce, dup: true, packetIdentifier: 1)
        try check(.publish(dup), "3C 05 00 01 74 00 01", version: .v311)
        var aliased = PublishPacket(topicName: "", payload: ByteBuffer())
        aliased.properties.topicAlias = 1
        aliased.properties.subscriptionIdentifiers = [1, 300]
        try check(.publish(aliased), "30 0B 00 00 08 0B 01 0B AC 02 23 00 01", version: .v5)
    }

    @Test func acks() throws {
        try check(.puback(AckPacket(packetIdentifier: 1)), "40 02 00 01", version: .v5)
        try check(.puback(AckPacket(packetIdentifier: 1)), "40 02 00 01", version: .v311)
        try check(.puback(AckPacket(packetIdentifier: 1, reasonCode: .noMatchingSubscribers)), "40 03 00 01 10", version: .v5)
        try check(.pubrec(AckPacket(packetIdentifier: 0x1234)), "50 02 12 34", version: .v5)
        try check(.pubrel(AckPacket(packetIdentifier: 1)), "62 02 00 01", version: .v311)
        try check(.pubcomp(AckPacket(packetIdentifier: 1, reasonCode: .packetIdentifierNotFound)), "70 03 00 01 92", version: .v5)
        var properties = MQTTProperties()
        properties.reasonString = "no"
        try check(.puback(AckPacket(packetIdentifier: 1, reasonCode: .success, properties: properties)), "40 09 00 01 00 05 1F 00 02 6E 6F", version: .v5)
        // A reason code followed by a zero Property Length also decodes.
        #expect(try decode("40 04 00 01 10 00", version: .v5) == .puback(AckPacket(packetIdentifier: 1, reasonCode: .noMatchingSubscribers)))
    }

    @Test func disconnect() throws {
        try check(.disconnect(DisconnectPacket()), "E0 00", version: .v311)
        try check(.disconnect(DisconnectPacket()), "E0 00", version: .v5)
        try check(.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver)), "E0 01 8E", version: .v5)
        #expect(try decode("E0 02 00 00", version: .v5) == .disconnect(DisconnectPacket()))
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 0
        try check(.disconnect(DisconnectPacket(properties: properties)), "E0 07 00 05 11 00 00 00 00", version: .v5)
    }

    @Test func auth() throws {
        var properties = MQTTProperties()
        properties.authenticationMethod = "X"
        try check(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: properties)), "F0 06 18 04 15 00 01 58", version: .v5)
        try check(.auth(AuthPacket()), "F0 00", version: .v5)
    }

    @Test func subscribe() throws {
        var properties = MQTTProperties()
        properties.subscriptionIdentifiers = [5]
        let options = SubscriptionOptions(qos: .atLeastOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend)
        let v5 = SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "a/#", options: options)], properties: properties)
        try check(.subscribe(v5), "82 0B 00 01 02 0B 05 00 03 61 2F 23 2D", version: .v5)
        let v311 = SubscribePacket(packetIdentifier: 10, subscriptions: [
            Subscription(topicFilter: "a/b", options: .init(qos: .atLeastOnce)),
            Subscription(topicFilter: "c/d", options: .init(qos: .exactlyOnce)),
        ])
        try check(.subscribe(v311), "82 0E 00 0A 00 03 61 2F 62 01 00 03 63 2F 64 02", version: .v311)
        try check(.unsubscribe(UnsubscribePacket(packetIdentifier: 1, topicFilters: ["a"])), "A2 05 00 01 00 01 61", version: .v311)
        try check(.unsubscribe(UnsubscribePacket(packetIdentifier: 1, topicFilters: ["a"])), "A2 06 00 01 00 00 01 61", version: .v5)
    }

    @Test func subackAndUnsuback() throws {
        // MQTT 3.1.1 §3.9.3: 0x00–0x02 or 0x80; every failure becomes 0x80.
        let suback = SubAckPacket(packetIdentifier: 10, reasonCodes: [.grantedQoS1, .notAuthorized, .grantedQoS0])
        let encoded = try encode(.suback(suback), version: .v311)
        #expect(hex(encoded) == "90 05 00 0A 01 80 00")
        try check(.suback(SubAckPacket(packetIdentifier: 10, reasonCodes: [.grantedQoS1, .notAuthorized])), "90 05 00 0A 00 01 87", version: .v5)
        try check(.unsuback(UnsubAckPacket(packetIdentifier: 1, reasonCodes: [])), "B0 02 00 01", version: .v311)
        try check(.unsuback(UnsubAckPacket(packetIdentifier: 1, reasonCodes: [.noSubscriptionExisted])), "B0 04 00 01 00 11", version: .v5)
    }

    @Test func nonMinimalRemainingLengthIsAccepted() throws {
        #expect(try decode("C0 80 00", version: .v311) == .pingreq)
        #expect(try decode("40 82 80 00 00 01", version: .v5) == .puback(AckPacket(packetIdentifier: 1)))
    }
}
