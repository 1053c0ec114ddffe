import Logging
import MQTT
import NIOCore
import NIOEmbedded
import Testing

@testable import MQTTServer

/// Layer 2: the real pipeline (framer, connection handler, registry, broker
/// router) in EmbeddedChannels on one EmbeddedEventLoop, time advanced by hand.
@Suite struct ConnectionHandlerTests {
    let loop = EmbeddedEventLoop()
    let server: ServerContext

    init() {
        var configuration = MQTTServerConfiguration()
        configuration.connectTimeout = .seconds(5)
        configuration.maximumPacketSize = 1024
        server = ServerContext(configuration: configuration, router: InMemoryRouter(), authenticator: AllowAllAuthenticator(), logger: Logger(label: "test"))
    }

    /// A client end: an EmbeddedChannel running the server pipeline.
    struct Client {
        let channel: EmbeddedChannel
        let version: ProtocolVersion

        func send(_ packet: MQTTPacket) throws {
            var buffer = ByteBuffer()
            try packet.write(to: &buffer, version: version)
            try channel.writeInbound(buffer)
        }

        func sendBytes(_ bytes: [UInt8]) throws {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        }

        /// Every packet the server wrote so far.
        func received() throws -> [MQTTPacket] {
            var bytes = ByteBuffer()
            while var chunk = try channel.readOutbound(as: ByteBuffer.self) {
                bytes.writeBuffer(&chunk)
            }
            var packets: [MQTTPacket] = []
            while let frame = try MQTTFramer.readFrame(from: &bytes, maximumPacketSize: MQTTLimits.maximumPacketSize) {
                packets.append(try MQTTPacket.decode(frame, version: version))
            }
            #expect(bytes.readableBytes == 0, "the server wrote a partial packet")
            return packets
        }

        var isOpen: Bool { channel.isActive }
    }

    func client(_ version: ProtocolVersion = .v5) throws -> Client {
        let channel = EmbeddedChannel(loop: loop)
        try MQTTServer.addMQTT(to: channel.pipeline.syncOperations, context: server)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return Client(channel: channel, version: version)
    }

    func connect(_ id: String, version: ProtocolVersion = .v5, clean: Bool = true, keepAlive: UInt16 = 0, expiry: UInt32? = nil) throws -> Client {
        let c = try client(version)
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = expiry
        try c.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: id, cleanStart: clean, keepAlive: keepAlive, properties: properties)))
        loop.run()
        let packets = try c.received()
        guard case .connack(let ack) = packets.first, ack.reasonCode == .success else {
            Issue.record("no successful CONNACK: \(packets)")
            return c
        }
        return c
    }

    @Test func connectTimeoutClosesASilentConnection() throws {
        let c = try client()
        loop.advanceTime(by: .seconds(4))
        #expect(c.isOpen)
        loop.advanceTime(by: .seconds(2))
        #expect(!c.isOpen)
        #expect(try c.received().isEmpty)
    }

    @Test func keepAliveAllowsOneAndAHalfPeriods() throws {
        let c = try connect("ka", keepAlive: 2)
        loop.advanceTime(by: .milliseconds(2900))
        #expect(c.isOpen)
        try c.send(.pingreq)
        loop.run()  // Output is flushed by a task at the end of the read burst.
        #expect(try c.received() == [.pingresp])
        loop.advanceTime(by: .milliseconds(2900))
        #expect(c.isOpen, "the PINGREQ restarted the clock")
        loop.advanceTime(by: .milliseconds(200))
        #expect(try c.received() == [.disconnect(DisconnectPacket(reasonCode: .keepAliveTimeout))])
        #expect(!c.isOpen)
    }

    @Test func keepAliveWheelClosesEachSilentConnectionAndForgetsClosedOnes() throws {
        let wheel = server.keepAliveWheel(on: loop)
        // Same deadline: same bucket. The first leaves, the others must
        // still be checked (a slot moves when one leaves its bucket).
        let clients = try (0..<4).map { try connect("wheel\($0)", keepAlive: 2) }
        let late = try connect("late", keepAlive: 4)
        #expect(wheel.count == 5)
        try clients[0].send(.disconnect(DisconnectPacket()))
        loop.run()
        #expect(!clients[0].isOpen)
        #expect(wheel.count == 4)
        loop.advanceTime(by: .milliseconds(1500))
        try clients[1].send(.pingreq)
        loop.run()
        loop.advanceTime(by: .milliseconds(1600))  // 3.1 s: past 1.5 × 2 s for 2 and 3.
        #expect(clients[1].isOpen)
        #expect(!clients[2].isOpen && !clients[3].isOpen)
        loop.advanceTime(by: .milliseconds(1500))  // 4.6 s: 3.1 s after the ping.
        #expect(!clients[1].isOpen)
        #expect(late.isOpen)
        loop.advanceTime(by: .milliseconds(1500))  // 6.1 s: past 1.5 × 4 s.
        #expect(!late.isOpen)
        #expect(wheel.count == 0)
    }

    @Test func packetBeforeConnectClosesWithoutAnswer() throws {
        let c = try client()
        try c.send(.pingreq)
        loop.run()
        #expect(try c.received().isEmpty)
        #expect(!c.isOpen)
    }

    @Test func unsupportedProtocolLevelGetsReturnCode1() throws {
        let c = try client(.v311)
        // CONNECT, protocol "MQTT" level 7.
        try c.sendBytes([0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x07, 0x02, 0x00, 0x3C, 0x00, 0x01, 0x61])
        loop.run()
        #expect(try c.received() == [.connack(ConnAckPacket(reasonCode: .unsupportedProtocolVersion))])
        #expect(!c.isOpen)
    }

    @Test func oversizePacketGetsPacketTooLarge() throws {
        let c = try connect("big")
        try c.send(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(repeating: 1, count: 2000))))
        loop.run()
        #expect(try c.received() == [.disconnect(DisconnectPacket(reasonCode: .packetTooLarge))])
        #expect(!c.isOpen)
    }

    @Test func malformedPacketAfterConnectGets0x81() throws {
        let c = try connect("bad")
        try c.sendBytes([0xC1, 0x00])  // PINGREQ with a reserved flag set.
        loop.run()
        #expect(try c.received() == [.disconnect(DisconnectPacket(reasonCode: .malformedPacket))])
        #expect(!c.isOpen)
    }

    @Test func packetsSplitAndJoinedAcrossReadsAreFramed() throws {
        let c = try client()
        func bytes(_ packet: MQTTPacket) throws -> [UInt8] {
            var buffer = ByteBuffer()
            try packet.write(to: &buffer, version: .v5)
            return Array(buffer.readableBytesView)
        }
        let connect = try bytes(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "split", keepAlive: 0)))
        let subscribe = try bytes(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "a/#", options: .init(qos: .atLeastOnce))])))
        let ping = try bytes(.pingreq)
        // The CONNECT one byte at a time; then a read that ends inside the
        // SUBSCRIBE, and one with its rest and two whole PINGREQs.
        for byte in connect { try c.sendBytes([byte]) }
        try c.sendBytes(Array(subscribe[..<3]))
        try c.sendBytes(Array(subscribe[3...]) + ping + ping)
        loop.run()
        let packets = try c.received()
        guard case .connack(let ack) = packets.first, ack.reasonCode == .success else {
            Issue.record("no successful CONNACK: \(packets)")
            return
        }
        #expect(Array(packets.dropFirst()) == [.suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1])), .pingresp, .pingresp])
        #expect(c.isOpen)
    }

    @Test func publishReachesSubscriberOnAnotherConnection() throws {
        let sub = try connect("sub")
        try sub.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "a/+", options: .init(qos: .atLeastOnce))])))
        loop.run()
        #expect(try sub.received() == [.suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1]))])

        let pub = try connect("pub", version: .v311)
        try pub.send(.publish(PublishPacket(topicName: "a/b", payload: ByteBuffer(string: "hi"), qos: .atLeastOnce, packetIdentifier: 5)))
        loop.run()
        #expect(try pub.received() == [.puback(AckPacket(packetIdentifier: 5))])
        let got = try sub.received()
        guard case .publish(let p) = got.first else {
            Issue.record("nothing delivered: \(got)")
            return
        }
        #expect(p.topicName == "a/b" && p.qos == .atLeastOnce && String(buffer: p.payload) == "hi")
    }

    @Test func sessionTakeoverDisconnectsTheOldConnection() throws {
        let first = try connect("same")
        let c = try client()
        try c.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "same", cleanStart: true, keepAlive: 0)))
        // The takeover waits for the old connection's loop to poll once more.
        loop.advanceTime(by: .milliseconds(1))
        let second = c
        #expect(try second.received().first.map { if case .connack(let ack) = $0 { return ack.reasonCode == .success } else { return false } } == true)
        #expect(try first.received() == [.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver))])
        #expect(!first.isOpen)
        #expect(second.isOpen)
    }

    @Test func resumedSessionRedeliversUnacknowledgedWithDup() throws {
        let sub = try connect("dev", clean: false, expiry: 300)
        try sub.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "q", options: .init(qos: .atLeastOnce))])))
        loop.run()
        _ = try sub.received()
        let pub = try connect("pub")
        try pub.send(.publish(PublishPacket(topicName: "q", payload: ByteBuffer(string: "m1"), qos: .atLeastOnce, packetIdentifier: 1)))
        loop.run()
        guard case .publish(let first) = try sub.received().first else {
            Issue.record("not delivered")
            return
        }
        #expect(!first.dup)
        // Connection drops without a PUBACK; a message arrives meanwhile.
        try sub.channel.close().wait()
        try pub.send(.publish(PublishPacket(topicName: "q", payload: ByteBuffer(string: "m2"), qos: .atLeastOnce, packetIdentifier: 2)))
        loop.run()

        let again = try client()
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 300
        try again.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "dev", cleanStart: false, keepAlive: 0, properties: properties)))
        loop.run()
        let packets = try again.received()
        guard packets.count == 3, case .connack(let ack) = packets[0], case .publish(let redelivered) = packets[1], case .publish(let queued) = packets[2] else {
            Issue.record("unexpected \(packets)")
            return
        }
        #expect(ack.sessionPresent)
        #expect(redelivered.dup && redelivered.packetIdentifier == first.packetIdentifier && String(buffer: redelivered.payload) == "m1")
        #expect(!queued.dup && String(buffer: queued.payload) == "m2")
    }

    @Test func cleanStartDiscardsTheSession() throws {
        let sub = try connect("dev2", clean: false, expiry: 300)
        try sub.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "q2", options: .init(qos: .atLeastOnce))])))
        loop.run()
        try sub.channel.close().wait()
        let c = try client()
        try c.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "dev2", cleanStart: true, keepAlive: 0)))
        loop.run()
        guard case .connack(let ack) = try c.received().first else {
            Issue.record("no CONNACK")
            return
        }
        #expect(!ack.sessionPresent)
        let pub = try connect("pub2")
        try pub.send(.publish(PublishPacket(topicName: "q2", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetIdentifier: 1)))
        loop.run()
        #expect(try pub.received() == [.puback(AckPacket(packetIdentifier: 1, reasonCode: .noMatchingSubscribers))])
        #expect(try c.received().isEmpty)
    }

    @Test func sessionExpiresAfterItsInterval() throws {
        let sub = try connect("exp", clean: false, expiry: 10)
        try sub.channel.close().wait()
        #expect(server.registry.session("exp") != nil)
        loop.advanceTime(by: .seconds(11))
        #expect(server.registry.session("exp") == nil)
    }

    @Test func willIsPublishedWhenTheConnectionDrops() throws {
        let watcher = try connect("watcher")
        try watcher.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "wills/#")])))
        loop.run()
        _ = try watcher.received()

        let c = try client()
        var willProperties = MQTTProperties()
        willProperties.willDelayInterval = 3
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 60
        let will = ConnectPacket.Will(topic: "wills/dev", payload: ByteBuffer(string: "offline"), properties: willProperties)
        try c.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "mortal", keepAlive: 0, will: will, properties: properties)))
        loop.run()
        try c.channel.close().wait()
        loop.advanceTime(by: .seconds(2))
        #expect(try watcher.received().isEmpty, "the will waits for its delay")
        loop.advanceTime(by: .seconds(2))
        guard case .publish(let p) = try watcher.received().first else {
            Issue.record("no will")
            return
        }
        #expect(p.topicName == "wills/dev" && String(buffer: p.payload) == "offline")
    }

    @Test func serverDisconnectCarriesServerReference() throws {
        let c = try connect("moved")
        var properties = MQTTProperties()
        properties.serverReference = "standby.example:1883"
        server.registry.session("moved")?.disconnect(reasonCode: .useAnotherServer, properties: properties)
        loop.run()
        #expect(try c.received() == [.disconnect(DisconnectPacket(reasonCode: .useAnotherServer, properties: properties))])
        #expect(!c.isOpen)
    }
}
