import MQTT
import NIOCore

/// One MQTT client connection of the benchmark, publisher or subscriber.
///
/// Frames inbound bytes with `MQTTFramer`, decodes with the project's codec
/// and hands packets to its `BenchPair`. Outbound packets are encoded into
/// one pending buffer and written with a single flush per read burst (or per
/// publishing round), so the run is not bound by syscalls.
final class BenchConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Which side of the pair this connection is.
    enum Role: Sendable, Hashable, CustomStringConvertible {
        case publisher
        case subscriber

        var description: String { self == .publisher ? "publisher" : "subscriber" }
    }

    /// Read frames up to this size. Benchmark packets are small, but a broker
    /// may legitimately send up to the protocol maximum.
    private static let maximumInboundPacketSize = MQTTLimits.maximumPacketSize
    /// Compact the inbound buffer once this much has been consumed at its front.
    private static let discardThreshold = 64 * 1024

    let role: Role
    private let pair: BenchPair
    private let version: ProtocolVersion
    private let clientIdentifier: String
    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    private var pending = ByteBuffer()
    private var connAckReceived = false
    private var failed = false

    init(role: Role, pair: BenchPair, version: ProtocolVersion) {
        self.role = role
        self.pair = pair
        self.version = version
        self.clientIdentifier = role == .publisher ? pair.publisherClientID : pair.subscriberClientID
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pending = context.channel.allocator.buffer(capacity: 4096)
        if context.channel.isActive { sendConnect() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        sendConnect()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !failed else { return }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        do {
            while let frame = try MQTTFramer.readFrame(from: &inbound, maximumPacketSize: Self.maximumInboundPacketSize) {
                let packet = try MQTTPacket.decode(frame, version: version)
                try handle(packet)
            }
        } catch {
            fail(error)
            return
        }
        if inbound.readerIndex >= Self.discardThreshold {
            inbound.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !failed { pair.readComplete(role) }
        flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pair.becameWritable(role) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !failed { pair.connectionEnded(role, error: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error)
    }

    // MARK: Packets

    private func handle(_ packet: MQTTPacket) throws {
        switch packet {
        case .connack(let connAck):
            guard !connAckReceived else {
                throw BenchError(.protocolViolation, "\(role) got a second CONNACK")
            }
            guard connAck.reasonCode == .success else {
                throw BenchError(.protocolViolation, "\(role) CONNECT refused with \(connAck.reasonCode)")
            }
            connAckReceived = true
            pair.connAckReceived(role, connAck)
        case .suback(let subAck) where role == .subscriber:
            try pair.subAckReceived(subAck)
        case .publish(let publish) where role == .subscriber:
            if publish.qos == .atLeastOnce, let id = publish.packetIdentifier {
                send(.puback(AckPacket(packetIdentifier: id)))
            }
            pair.delivered(publish)
        case .puback(let ack) where role == .publisher:
            pair.acknowledged(ack.packetIdentifier)
        case .pingresp:
            break
        case .disconnect(let disconnect):
            throw BenchError(.connectionFailed, "\(role) got DISCONNECT \(disconnect.reasonCode)")
        default:
            throw BenchError(.protocolViolation, "\(role) got an unexpected \(packet.type)")
        }
    }

    private func sendConnect() {
        // Keep Alive 0: the run is bounded and the connections are busy; no PINGREQ needed.
        send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: true, keepAlive: 0)))
        flush()
    }

    /// Encodes `packet` into the pending buffer; `flush()` writes it.
    func send(_ packet: MQTTPacket) {
        do {
            try packet.write(to: &pending, version: version)
        } catch {
            fail(error)
        }
    }

    /// Writes and flushes everything pending, in one write.
    func flush() {
        guard let context, pending.readableBytes > 0 else { return }
        let size = pending.readableBytes
        context.writeAndFlush(wrapOutboundOut(pending), promise: nil)
        pending = context.channel.allocator.buffer(capacity: max(4096, size))
    }

    /// Sends DISCONNECT, then closes the connection once it is written.
    func disconnect() {
        guard let context, !failed else { return }
        failed = true  // nothing more is read or reported
        send(.disconnect(DisconnectPacket()))
        let channel = context.channel
        let size = pending.readableBytes
        context.writeAndFlush(wrapOutboundOut(pending)).whenComplete { _ in
            channel.close(promise: nil)
        }
        pending = context.channel.allocator.buffer(capacity: max(64, size))
    }

    private func fail(_ error: Error) {
        guard !failed else { return }
        failed = true
        pair.connectionEnded(role, error: error)
        context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension BenchConnectionHandler: Sendable {}
