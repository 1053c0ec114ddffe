import MQTT
import NIOCore
import Testing

/// Properties with every field a packet may carry set, two user properties each.
enum Sample {
    static let users = [UserProperty(name: "k", value: "v"), UserProperty(name: "ключ", value: "値 🎉")]

    static var connect: MQTTProperties {
        var p = MQTTProperties()
        p.sessionExpiryInterval = 3600
        p.authenticationMethod = "SCRAM-SHA-1"
        p.authenticationData = ByteBuffer(bytes: [1, 2, 3])
        p.requestProblemInformation = 0
        p.requestResponseInformation = 1
        p.receiveMaximum = 20
        p.topicAliasMaximum = 10
        p.maximumPacketSize = 1 << 20
        p.userProperties = users
        return p
    }

    static var connack: MQTTProperties {
        var p = MQTTProperties()
        p.sessionExpiryInterval = MQTTLimits.sessionNeverExpires
        p.assignedClientIdentifier = "auto-1234"
        p.serverKeepAlive = 30
        p.authenticationMethod = "SCRAM-SHA-1"
        p.authenticationData = ByteBuffer(bytes: [9])
        p.responseInformation = "reply/"
        p.serverReference = "other:1883"
        p.reasonString = "welcome"
        p.receiveMaximum = 100
        p.topicAliasMaximum = 65535
        p.maximumQoS = 1
        p.retainAvailable = 1
        p.maximumPacketSize = 268_435_460
        p.wildcardSubscriptionAvailable = 1
        p.subscriptionIdentifierAvailable = 0
        p.sharedSubscriptionAvailable = 1
        p.userProperties = users
        return p
    }

    static var publish: MQTTProperties {
        var p = MQTTProperties()
        p.payloadFormatIndicator = 1
        p.messageExpiryInterval = 60
        p.contentType = "text/plain"
        p.responseTopic = "reply/to/me"
        p.correlationData = ByteBuffer(bytes: [0xCA, 0xFE])
        p.subscriptionIdentifiers = [1, 128, 268_435_455]
        p.topicAlias = 7
        p.userProperties = users
        return p
    }

    static var will: MQTTProperties {
        var p = MQTTProperties()
        p.payloadFormatIndicator = 0
        p.messageExpiryInterval = 10
        p.contentType = "application/json"
        p.responseTopic = "will/reply"
        p.correlationData = ByteBuffer(bytes: [0])
        p.willDelayInterval = 5
        p.userProperties = users
        return p
    }

    static var reasonOnly: MQTTProperties {
        var p = MQTTProperties()
        p.reasonString = "because"
        p.userProperties = users
        return p
    }

    static var subscribe: MQTTProperties {
        var p = MQTTProperties()
        p.subscriptionIdentifiers = [16_384]
        p.userProperties = users
        return p
    }

    static var disconnect: MQTTProperties {
        var p = MQTTProperties()
        p.sessionExpiryInterval = 0
        p.serverReference = "elsewhere"
        p.reasonString = "bye"
        p.userProperties = users
        return p
    }

    static var auth: MQTTProperties {
        var p = MQTTProperties()
        p.authenticationMethod = "SCRAM-SHA-1"
        p.authenticationData = ByteBuffer(bytes: Array(repeating: 0xAB, count: 300))
        p.reasonString = "more"
        p.userProperties = users
        return p
    }

    static var userOnly: MQTTProperties {
        var p = MQTTProperties()
        p.userProperties = users
        return p
    }
}

@Suite("Round trips")
struct RoundTripTests {
    static let versions: [ProtocolVersion] = [.v311, .v5]

    @Test(arguments: versions)
    func connect(version: ProtocolVersion) throws {
        let v5 = version == .v5
        let will = ConnectPacket.Will(
            topic: "clients/42/status",
            payload: ByteBuffer(string: "gone"),
            qos: .exactlyOnce,
            retain: true,
            properties: v5 ? Sample.will : MQTTProperties()
        )
        let full = ConnectPacket(
            protocolVersion: version,
            clientIdentifier: "client-42",
            cleanStart: false,
            keepAlive: 65535,
            username: "alice",
            password: ByteBuffer(bytes: [0, 1, 2, 0xFF]),
            will: will,
            properties: v5 ? Sample.connect : MQTTProperties()
        )
        try expectRoundTrip(.connect(full), version: version)
        // Also with the other protocol version passed in: CONNECT carries its own level.
        try expectRoundTrip(.connect(full), version: v5 ? .v311 : .v5)

        let minimal = ConnectPacket(protocolVersion: version, clientIdentifier: "", keepAlive: 0)
        try expectRoundTrip(.connect(minimal), version: version)

        var willOnly = minimal
        willOnly.will = ConnectPacket.Will(topic: "w", payload: ByteBuffer())
        try expectRoundTrip(.connect(willOnly), version: version)

        var usernameOnly = minimal
        usernameOnly.username = ""
        try expectRoundTrip(.connect(usernameOnly), version: version)

        if v5 {
            var passwordOnly = minimal
            passwordOnly.password = ByteBuffer(string: "secret")
            try expectRoundTrip(.connect(passwordOnly), version: version)
        }
    }

    @Test(arguments: versions)
    func connack(version: ProtocolVersion) throws {
        switch version {
        case .v311:
            for code: ReasonCode in [.success, .unsupportedProtocolVersion, .clientIdentifierNotValid, .serverUnavailable, .badUserNameOrPassword, .notAuthorized] {
                try expectRoundTrip(.connack(ConnAckPacket(sessionPresent: code == .success, reasonCode: code)), version: version)
            }
            // A 5.0-only code goes out as the nearest return code.
            try expectRoundTrip(
                .connack(ConnAckPacket(reasonCode: .banned, properties: Sample.connack)),
                version: version,
                as: .connack(ConnAckPacket(reasonCode: .notAuthorized))
            )
        case .v5:
            try expectRoundTrip(.connack(ConnAckPacket(sessionPresent: true, properties: Sample.connack)), version: version)
            try expectRoundTrip(.connack(ConnAckPacket(reasonCode: .qosNotSupported)), version: version)
        case .v31:
            Issue.record("3.1 has its own tests")
        }
    }

    @Test func mqtt31ConnectRoundTripsWithItsProtocolName() throws {
        var connect = ConnectPacket(protocolVersion: .v31, clientIdentifier: "old-device", cleanStart: false, keepAlive: 30, username: "u", password: ByteBuffer(string: "p"))
        connect.will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce, retain: true)
        try expectRoundTrip(.connect(connect), version: .v31)
        var buffer = ByteBuffer()
        try MQTTPacket.connect(connect).write(to: &buffer, version: .v31)
        // Remaining length, then "MQIsdp" and level 3 (MQTT 3.1 §3.1).
        #expect(Array(buffer.readableBytesView.dropFirst(2).prefix(9)) == [0x00, 0x06, 0x4D, 0x51, 0x49, 0x73, 0x64, 0x70, 0x03])
    }

    @Test func mqtt31ConnAckHasNoSessionPresent() throws {
        var buffer = ByteBuffer()
        try MQTTPacket.connack(ConnAckPacket(sessionPresent: true, reasonCode: .success)).write(to: &buffer, version: .v31)
        #expect(Array(buffer.readableBytesView) == [0x20, 0x02, 0x00, 0x00], "byte 1 is reserved in 3.1")
        buffer.clear()
        try MQTTPacket.connack(ConnAckPacket(reasonCode: .clientIdentifierNotValid)).write(to: &buffer, version: .v31)
        #expect(Array(buffer.readableBytesView) == [0x20, 0x02, 0x00, 0x02], "identifier rejected")
        buffer.clear()
        try MQTTPacket.connack(ConnAckPacket(sessionPresent: true, reasonCode: .success)).write(to: &buffer, version: .v311)
        #expect(Array(buffer.readableBytesView) == [0x20, 0x02, 0x01, 0x00])
    }

    @Test(arguments: versions)
    func publish(version: ProtocolVersion) throws {
        let properties = version == .v5 ? Sample.publish : MQTTProperties()
        for qos in [QoS.atMostOnce, .atLeastOnce, .exactlyOnce] {
            let packet = PublishPacket(
                topicName: "chat/room/💬",
                payload: ByteBuffer(bytes: Array(0...255)),
                qos: qos,
                retain: qos == .exactlyOnce,
                dup: qos != .atMostOnce,
                packetIdentifier: qos == .atMostOnce ? nil : 65535,
                properties: properties
            )
            try expectRoundTrip(.publish(packet), version: version)
        }
        try expectRoundTrip(.publish(PublishPacket(topicName: "/", payload: ByteBuffer())), version: version)
        // A payload over 127, 16383 and 2097151 bytes needs a 2, 3 and 4 byte Remaining Length.
        for size in [200, 20_000, 2_100_000] {
            let big = PublishPacket(topicName: "big", payload: ByteBuffer(repeating: 0x5A, count: size), qos: .atLeastOnce, packetIdentifier: 1)
            try expectRoundTrip(.publish(big), version: version)
        }
        if version == .v5 {
            var aliasOnly = PublishPacket(topicName: "", payload: ByteBuffer(string: "x"))
            aliasOnly.properties.topicAlias = 3
            try expectRoundTrip(.publish(aliasOnly), version: version)
        }
    }

    @Test(arguments: versions)
    func acks(version: ProtocolVersion) throws {
        let plain = AckPacket(packetIdentifier: 1234)
        for packet: MQTTPacket in [.puback(plain), .pubrec(plain), .pubrel(plain), .pubcomp(plain)] {
            try expectRoundTrip(packet, version: version)
        }
        guard version == .v5 else {
            // 3.1.1 has no reason codes: they are dropped.
            try expectRoundTrip(.puback(AckPacket(packetIdentifier: 2, reasonCode: .quotaExceeded)), version: version, as: .puback(AckPacket(packetIdentifier: 2)))
            return
        }
        try expectRoundTrip(.puback(AckPacket(packetIdentifier: 2, reasonCode: .noMatchingSubscribers)), version: version)
        try expectRoundTrip(.puback(AckPacket(packetIdentifier: 2, reasonCode: .quotaExceeded, properties: Sample.reasonOnly)), version: version)
        try expectRoundTrip(.pubrec(AckPacket(packetIdentifier: 3, reasonCode: .payloadFormatInvalid, properties: Sample.reasonOnly)), version: version)
        try expectRoundTrip(.pubrel(AckPacket(packetIdentifier: 4, reasonCode: .packetIdentifierNotFound, properties: Sample.reasonOnly)), version: version)
        try expectRoundTrip(.pubcomp(AckPacket(packetIdentifier: 5, reasonCode: .success, properties: Sample.reasonOnly)), version: version)
    }

    @Test(arguments: versions)
    func subscribe(version: ProtocolVersion) throws {
        let v5 = version == .v5
        let subscriptions = [
            Subscription(topicFilter: "a/+/c", options: SubscriptionOptions(qos: .atMostOnce)),
            Subscription(
                topicFilter: "sport/#",
                options: SubscriptionOptions(qos: .exactlyOnce, noLocal: v5, retainAsPublished: v5, retainHandling: v5 ? .doNotSend : .sendOnSubscribe)
            ),
            Subscription(topicFilter: "$share/group/x", options: SubscriptionOptions(qos: .atLeastOnce, retainHandling: v5 ? .sendOnNewSubscribe : .sendOnSubscribe)),
        ]
        let packet = SubscribePacket(packetIdentifier: 7, subscriptions: subscriptions, properties: v5 ? Sample.subscribe : MQTTProperties())
        try expectRoundTrip(.subscribe(packet), version: version)

        let codes: [ReasonCode] = [.grantedQoS0, .grantedQoS1, .grantedQoS2, .unspecifiedError]
        try expectRoundTrip(.suback(SubAckPacket(packetIdentifier: 7, reasonCodes: codes, properties: v5 ? Sample.reasonOnly : MQTTProperties())), version: version)
        if v5 {
            let failures: [ReasonCode] = [.topicFilterInvalid, .sharedSubscriptionsNotSupported, .wildcardSubscriptionsNotSupported, .quotaExceeded]
            try expectRoundTrip(.suback(SubAckPacket(packetIdentifier: 8, reasonCodes: failures)), version: version)
        } else {
            // Every failure is 0x80 in 3.1.1.
            try expectRoundTrip(
                .suback(SubAckPacket(packetIdentifier: 8, reasonCodes: [.topicFilterInvalid, .grantedQoS1])),
                version: version,
                as: .suback(SubAckPacket(packetIdentifier: 8, reasonCodes: [.unspecifiedError, .grantedQoS1]))
            )
        }
    }

    @Test(arguments: versions)
    func unsubscribe(version: ProtocolVersion) throws {
        let v5 = version == .v5
        let packet = UnsubscribePacket(packetIdentifier: 9, topicFilters: ["a/b", "#", ""], properties: v5 ? Sample.userOnly : MQTTProperties())
        try expectRoundTrip(.unsubscribe(packet), version: version)
        if v5 {
            let ack = UnsubAckPacket(packetIdentifier: 9, reasonCodes: [.success, .noSubscriptionExisted, .notAuthorized], properties: Sample.reasonOnly)
            try expectRoundTrip(.unsuback(ack), version: version)
        } else {
            try expectRoundTrip(
                .unsuback(UnsubAckPacket(packetIdentifier: 9, reasonCodes: [.success])),
                version: version,
                as: .unsuback(UnsubAckPacket(packetIdentifier: 9, reasonCodes: []))
            )
        }
    }

    @Test(arguments: versions)
    func pingAndDisconnect(version: ProtocolVersion) throws {
        try expectRoundTrip(.pingreq, version: version)
        try expectRoundTrip(.pingresp, version: version)
        try expectRoundTrip(.disconnect(DisconnectPacket()), version: version)
        if version == .v5 {
            try expectRoundTrip(.disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage)), version: version)
            try expectRoundTrip(.disconnect(DisconnectPacket(reasonCode: .serverMoved, properties: Sample.disconnect)), version: version)
            try expectRoundTrip(.disconnect(DisconnectPacket(reasonCode: .success, properties: Sample.disconnect)), version: version)
        } else {
            try expectRoundTrip(
                .disconnect(DisconnectPacket(reasonCode: .protocolError, properties: Sample.disconnect)),
                version: version,
                as: .disconnect(DisconnectPacket())
            )
        }
    }

    @Test func auth() throws {
        try expectRoundTrip(.auth(AuthPacket()), version: .v5)
        try expectRoundTrip(.auth(AuthPacket(reasonCode: .reAuthenticate)), version: .v5)
        try expectRoundTrip(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Sample.auth)), version: .v5)
    }

    @Test func propertiesAPacketMayNotCarryAreNotWritten() throws {
        var properties = Sample.publish
        properties.sessionExpiryInterval = 10
        properties.reasonString = "not in PUBLISH"
        let packet = PublishPacket(topicName: "t", payload: ByteBuffer(), properties: properties)
        try expectRoundTrip(.publish(packet), version: .v5, as: .publish(PublishPacket(topicName: "t", payload: ByteBuffer(), properties: Sample.publish)))

        var ackProperties = MQTTProperties()
        ackProperties.topicAlias = 3
        // Nothing the ack may carry: the 2-byte form.
        let ack = try encode(.puback(AckPacket(packetIdentifier: 1, properties: ackProperties)), version: .v5)
        #expect(hex(ack) == "40 02 00 01")
    }

    @Test func decodedPublishPayloadIsASliceOfTheFrame() throws {
        let packet = PublishPacket(topicName: "t", payload: ByteBuffer(repeating: 1, count: 1000), qos: .atLeastOnce, packetIdentifier: 1)
        var encoded = try encode(.publish(packet), version: .v5)
        let frame = try #require(try MQTTFramer.readFrame(from: &encoded, maximumPacketSize: .max))
        guard case .publish(let decoded) = try MQTTPacket.decode(frame, version: .v5) else {
            Issue.record("not a PUBLISH")
            return
        }
        let framePointer = frame.body.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let payloadPointer = decoded.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(payloadPointer == framePointer + UInt(frame.body.readableBytes - 1000))
    }

    @Test func decodedConnectOwnsItsPasswordAndWill() throws {
        var willProperties = MQTTProperties()
        willProperties.correlationData = ByteBuffer(repeating: 3, count: 100)
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(repeating: 1, count: 500), properties: willProperties)
        let packet = ConnectPacket(protocolVersion: .v5, clientIdentifier: "c", username: "u", password: ByteBuffer(repeating: 2, count: 300), will: will)
        var encoded = try encode(.connect(packet), version: .v5)
        let frame = try #require(try MQTTFramer.readFrame(from: &encoded, maximumPacketSize: .max))
        let decoded = try MQTTPacket.decodeConnect(frame)
        #expect(decoded == packet)
        // None of them points into the frame: they do not keep its read buffer alive.
        let frameStart = frame.body.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let frameRange = frameStart..<(frameStart + UInt(frame.body.readableBytes))
        for field in [decoded.password, decoded.will?.payload, decoded.will?.properties.correlationData] {
            let start = try #require(field).withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
            #expect(!frameRange.contains(start))
        }
    }

    @Test func isEmpty() {
        #expect(MQTTProperties().isEmpty)
        for properties in [Sample.connect, Sample.connack, Sample.publish, Sample.will, Sample.auth, Sample.subscribe] {
            #expect(!properties.isEmpty)
        }
        var one = MQTTProperties()
        one.sharedSubscriptionAvailable = 0
        #expect(!one.isEmpty)
    }
}
