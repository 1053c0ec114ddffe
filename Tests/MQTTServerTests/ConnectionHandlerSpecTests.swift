import MQTT
import NIOCore
import NIOEmbedded
import Testing

@testable import MQTTServer

/// Stands in for a socket that can half-close: records `close(mode: .output)`
/// instead of passing it on (an `EmbeddedChannel` would close entirely).
final class HalfCloseRecorder: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var outputClosed = false

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output {
            outputClosed = true
            promise?.succeed(())
        } else {
            context.close(mode: mode, promise: promise)
        }
    }
}

@available(*, unavailable)
extension HalfCloseRecorder: Sendable {}

/// Layer 2 for issue 18 and issue 10 item 13: the handler drains input
/// after telling a client why it closes; MQTT 3.1 CONNECT; clean sessions at
/// takeover.
extension ConnectionHandlerTests {
    /// A connected v5 client whose channel half-closes into a recorder.
    func halfClosingClient(_ id: String) throws -> (Client, HalfCloseRecorder) {
        let c = try connect(id)
        let recorder = HalfCloseRecorder()
        try c.channel.pipeline.syncOperations.addHandler(recorder, position: .first)
        return (c, recorder)
    }

    @Test func afterDisconnectTheOutputIsShutAndInputDiscardedForOneSecond() throws {
        let (c, recorder) = try halfClosingClient("drain-time")
        try c.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "drain-time")))
        loop.run()
        #expect(try c.received() == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
        #expect(recorder.outputClosed, "output shut down after the DISCONNECT")
        #expect(c.isOpen, "input is still read")
        // A client still writing: its packets are read and dropped, unanswered.
        try c.send(.pingreq)
        try c.send(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetIdentifier: 1)))
        loop.run()
        #expect(try c.received().isEmpty)
        loop.advanceTime(by: MQTTConnectionHandler.drainTime - .milliseconds(1))
        #expect(c.isOpen)
        loop.advanceTime(by: .milliseconds(1))
        #expect(!c.isOpen, "closed when the drain time is up")
    }

    @Test func drainingStopsAfterItsByteBudget() throws {
        let (c, recorder) = try halfClosingClient("drain-bytes")
        try c.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "drain-bytes")))
        loop.run()
        #expect(recorder.outputClosed)
        try c.sendBytes([UInt8](repeating: 0, count: MQTTConnectionHandler.drainBytes - 1))
        #expect(c.isOpen)
        try c.sendBytes([0])
        #expect(!c.isOpen, "closed once the budget is read")
    }

    @Test func closingWithoutTellingTheClientDoesNotDrain() throws {
        let c = try connect("v311-violation", version: .v311)
        let recorder = HalfCloseRecorder()
        try c.channel.pipeline.syncOperations.addHandler(recorder, position: .first)
        try c.send(.connect(ConnectPacket(protocolVersion: .v311, clientIdentifier: "v311-violation")))
        loop.run()
        #expect(try c.received().isEmpty)
        #expect(!recorder.outputClosed)
        #expect(!c.isOpen, "3.1.1 has no DISCONNECT to read: closed at once")
    }

    @Test func mqtt31ConnectIsAccepted() throws {
        let c = try client(.v31)
        // CONNECT, protocol "MQIsdp" level 3, Clean Session, keep alive 60, client "d31".
        try c.sendBytes([0x10, 0x11, 0x00, 0x06, 0x4D, 0x51, 0x49, 0x73, 0x64, 0x70, 0x03, 0x02, 0x00, 0x3C, 0x00, 0x03, 0x64, 0x33, 0x31])
        loop.run()
        #expect(try c.received() == [.connack(ConnAckPacket(reasonCode: .success))])
        try c.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "v31/t", options: .init(qos: .atLeastOnce))])))
        try c.send(.publish(PublishPacket(topicName: "v31/t", payload: ByteBuffer(string: "old"), qos: .atLeastOnce, packetIdentifier: 2)))
        loop.run()
        let packets = try c.received()
        #expect(packets.contains(.suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1]))))
        #expect(packets.contains(.puback(AckPacket(packetIdentifier: 2))))
        #expect(packets.contains { if case .publish(let p) = $0 { return String(buffer: p.payload) == "old" } else { return false } })
    }

    @Test func mqtt31ClientIdentifierOver23CharactersGetsReturnCode2() throws {
        let c = try client(.v31)
        try c.send(.connect(ConnectPacket(protocolVersion: .v31, clientIdentifier: String(repeating: "x", count: 24))))
        loop.run()
        var bytes = ByteBuffer()
        while var chunk = try c.channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
        #expect(Array(bytes.readableBytesView) == [0x20, 0x02, 0x00, 0x02])
        #expect(!c.isOpen)
    }

    @Test func cleanSessionTakenOverByCleanSession0IsNotResumed() throws {
        let first = try connect("clean-then-kept", version: .v311, clean: true)
        try first.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "cs/t", options: .init(qos: .atLeastOnce))])))
        loop.run()
        _ = try first.received()
        let second = try client(.v311)
        try second.send(.connect(ConnectPacket(protocolVersion: .v311, clientIdentifier: "clean-then-kept", cleanStart: false)))
        loop.advanceTime(by: .milliseconds(1))
        guard case .connack(let ack) = try second.received().first else {
            Issue.record("no CONNACK")
            return
        }
        #expect(ack.reasonCode == .success)
        #expect(!ack.sessionPresent, "the clean session ended with its connection (3.1.1 §3.1.2.4)")
        #expect(!first.isOpen)
        // Its subscription ended with it.
        let pub = try connect("cs-pub", version: .v311)
        try pub.send(.publish(PublishPacket(topicName: "cs/t", payload: ByteBuffer(string: "x"), qos: .atMostOnce)))
        loop.run()
        #expect(try second.received().isEmpty)
    }

    @Test func storedSessionTakenOverByCleanSession0IsResumed() throws {
        let first = try connect("kept-then-kept", version: .v311, clean: false)
        let second = try client(.v311)
        try second.send(.connect(ConnectPacket(protocolVersion: .v311, clientIdentifier: "kept-then-kept", cleanStart: false)))
        loop.advanceTime(by: .milliseconds(1))
        guard case .connack(let ack) = try second.received().first else {
            Issue.record("no CONNACK")
            return
        }
        #expect(ack.sessionPresent)
        #expect(!first.isOpen)
    }
}
