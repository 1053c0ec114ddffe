import MQTT
import NIOCore

/// Who a benchmark device is: the CONNECT's client identifier (the device),
/// user name and password (a token from the deployment key).
struct ChatDeviceIdentity: Sendable, Hashable {
    var user: String
    var device: String
    var token: String
}

/// How a benchmark device speaks MQTT.
struct ChatDeviceOptions: Sendable, Hashable {
    var version: ProtocolVersion = .v5
    /// MQTT 5 only: announce a Topic Alias Maximum (so the relay aliases
    /// `d/<device>/…`) and alias the device's own `s/<conversation>` topics.
    var topicAliases = true
    /// Seconds; 0 for none (the relay's Server Keep Alive, if it sends one, wins).
    var keepAlive: UInt16 = 0
}

/// What a `ChatDeviceHandler` reports, always on its channel's event loop.
protocol ChatDeviceDelegate: AnyObject {
    /// CONNACK accepted and `d/<device>/#` subscribed.
    func deviceReady(_ device: ChatDeviceHandler)
    /// A PUBLISH arrived (already acknowledged when QoS 1), its topic alias
    /// resolved; `bytes` is the whole packet on the wire.
    func device(_ device: ChatDeviceHandler, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64)
    /// A PUBACK arrived for one of the device's PUBLISHes.
    func device(_ device: ChatDeviceHandler, acknowledged packetIdentifier: UInt16, reason: ReasonCode, at now: UInt64)
    /// The end of a read burst: a good moment to write.
    func deviceReadComplete(_ device: ChatDeviceHandler)
    /// The connection failed, was refused or closed; nil after `disconnect()`.
    func device(_ device: ChatDeviceHandler, ended error: BenchError?)
}

extension ChatDeviceDelegate {
    func device(_ device: ChatDeviceHandler, acknowledged packetIdentifier: UInt16, reason: ReasonCode, at now: UInt64) {}
    func deviceReadComplete(_ device: ChatDeviceHandler) {}
}

/// One device of the chat contract (docs/protocol.md) over the project's
/// codec: CONNECT with a token, SUBSCRIBE `d/<device>/#` at QoS 1, PUBACK
/// for everything delivered, topic aliases both ways with MQTT 5. Counts
/// the bytes it reads and writes on its socket. Writes are gathered and
/// flushed once per read burst or on `flush()`.
final class ChatDeviceHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let subscribeIdentifier: UInt16 = 1
    /// Topic aliases this device accepts from the relay.
    static let inboundAliasMaximum: UInt16 = 16

    let identity: ChatDeviceIdentity
    let options: ChatDeviceOptions
    /// A free-form index the driver uses to find its device.
    let index: Int
    private let delegate: any ChatDeviceDelegate
    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    private var pending = ByteBuffer()
    private var state = State.connecting
    private var nextPacketIdentifier: UInt16 = 1
    private var aliasesIn: [UInt16: String] = [:]
    private var aliasesOut: [String: UInt16] = [:]
    private var aliasOutMaximum: UInt16 = 0
    private var pinger: RepeatedTask?

    /// Bytes read from and written to the socket.
    private(set) var bytesIn = 0
    private(set) var bytesOut = 0
    /// The relay's CONNACK Receive Maximum: QoS 1 PUBLISHes it takes unacknowledged.
    private(set) var serverReceiveMaximum = 65_535

    private enum State { case connecting, subscribing, ready, ended }

    init(identity: ChatDeviceIdentity, options: ChatDeviceOptions, index: Int, delegate: any ChatDeviceDelegate) {
        self.identity = identity
        self.options = options
        self.index = index
        self.delegate = delegate
    }

    var isReady: Bool { state == .ready }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pending = context.channel.allocator.buffer(capacity: 512)
        if context.channel.isActive { sendConnect() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pinger?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        sendConnect()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard state != .ended else { return }
        bytesIn += bytes.readableBytes
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        do {
            while true {
                let start = inbound.readerIndex
                guard let frame = try MQTTFramer.readFrame(from: &inbound, maximumPacketSize: MQTTLimits.maximumPacketSize) else { break }
                let packet = try MQTTPacket.decode(frame, version: options.version)
                try handle(packet, bytes: inbound.readerIndex - start)
                guard state != .ended else { return }
            }
        } catch {
            end(error as? BenchError ?? BenchError(.protocolViolation, "\(identity.device): \(error)"))
            return
        }
        if inbound.readerIndex >= 64 * 1024 { inbound.discardReadBytes() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if state == .ready { delegate.deviceReadComplete(self) }
        flush()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(BenchError(.connectionFailed, "\(identity.device): the relay closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        end(BenchError(.connectionFailed, "\(identity.device): \(error)"))
    }

    // MARK: Packets

    private func handle(_ packet: MQTTPacket, bytes: Int) throws {
        let now = NIODeadline.now().uptimeNanoseconds
        switch packet {
        case .connack(let ack) where state == .connecting:
            guard ack.reasonCode == .success else {
                throw BenchError(.protocolViolation, "\(identity.device): CONNECT refused with \(ack.reasonCode)")
            }
            serverReceiveMaximum = Int(ack.properties.receiveMaximum ?? 65_535)
            if options.version == .v5 && options.topicAliases {
                aliasOutMaximum = ack.properties.topicAliasMaximum ?? 0
            }
            startPinging(every: ack.properties.serverKeepAlive ?? options.keepAlive)
            state = .subscribing
            let subscription = Subscription(topicFilter: "d/\(identity.device)/#", options: SubscriptionOptions(qos: .atLeastOnce))
            send(.subscribe(SubscribePacket(packetIdentifier: Self.subscribeIdentifier, subscriptions: [subscription])))
            flush()
        case .suback(let ack) where state == .subscribing:
            guard ack.packetIdentifier == Self.subscribeIdentifier, ack.reasonCodes.count == 1, !ack.reasonCodes[0].isFailure else {
                throw BenchError(.protocolViolation, "\(identity.device): SUBSCRIBE refused")
            }
            state = .ready
            delegate.deviceReady(self)
        case .publish(var publish) where state == .ready:
            let topic = try resolveTopic(&publish)
            if publish.qos == .atLeastOnce, let id = publish.packetIdentifier {
                send(.puback(AckPacket(packetIdentifier: id)))
            }
            delegate.device(self, received: publish, topic: topic, bytes: bytes, at: now)
        case .puback(let ack) where state == .ready:
            delegate.device(self, acknowledged: ack.packetIdentifier, reason: ack.reasonCode, at: now)
        case .pingresp:
            break
        case .disconnect(let disconnect):
            throw BenchError(.connectionFailed, "\(identity.device): DISCONNECT \(disconnect.reasonCode)")
        default:
            throw BenchError(.protocolViolation, "\(identity.device): unexpected \(packet.type)")
        }
    }

    private func resolveTopic(_ publish: inout PublishPacket) throws -> String {
        guard let alias = publish.properties.topicAlias else { return publish.topicName }
        if !publish.topicName.isEmpty {
            aliasesIn[alias] = publish.topicName
            return publish.topicName
        }
        guard let topic = aliasesIn[alias] else {
            throw BenchError(.protocolViolation, "\(identity.device): unknown topic alias \(alias)")
        }
        return topic
    }

    private func sendConnect() {
        var properties = MQTTProperties()
        if options.version == .v5 && options.topicAliases {
            properties.topicAliasMaximum = Self.inboundAliasMaximum
        }
        send(.connect(ConnectPacket(
            protocolVersion: options.version, clientIdentifier: identity.device, cleanStart: true,
            keepAlive: options.keepAlive, username: identity.user,
            password: ByteBuffer(string: identity.token), properties: properties
        )))
        flush()
    }

    private func startPinging(every seconds: UInt16) {
        guard seconds > 0, let context else { return }
        let interval = TimeAmount.milliseconds(Int64(seconds) * 500)
        let channel = context.channel
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            // Keep-alive: a bounded number of bytes per interval, written directly.
            var ping = channel.allocator.buffer(capacity: 2)
            ping.writeBytes([0xC0, 0x00])
            channel.writeAndFlush(ping, promise: nil)
        }
    }

    // MARK: Writing

    /// Encodes a QoS 1 PUBLISH (aliasing its topic with MQTT 5 when the
    /// relay allows) and returns its packet identifier and size in bytes.
    @discardableResult
    func publish(topic: String, payload: ByteBuffer, properties: MQTTProperties = .init()) -> (id: UInt16, bytes: Int) {
        let id = nextPacketIdentifier
        nextPacketIdentifier = nextPacketIdentifier == .max ? 1 : nextPacketIdentifier + 1
        var packet = PublishPacket(topicName: topic, payload: payload, qos: .atLeastOnce, packetIdentifier: id, properties: properties)
        if aliasOutMaximum > 0 {
            if let alias = aliasesOut[topic] {
                packet.topicName = ""
                packet.properties.topicAlias = alias
            } else if aliasesOut.count < Int(aliasOutMaximum) {
                let alias = UInt16(aliasesOut.count + 1)
                aliasesOut[topic] = alias
                packet.properties.topicAlias = alias
            }
        }
        let before = pending.writerIndex
        send(.publish(packet))
        return (id, pending.writerIndex - before)
    }

    private func send(_ packet: MQTTPacket) {
        guard state != .ended else { return }
        do {
            try packet.write(to: &pending, version: options.version)
        } catch {
            end(BenchError(.protocolViolation, "\(identity.device): cannot encode \(packet.type): \(error)"))
        }
    }

    /// Writes everything encoded so far in one write.
    func flush() {
        guard let context, pending.readableBytes > 0 else { return }
        bytesOut += pending.readableBytes
        let size = pending.readableBytes
        context.writeAndFlush(wrapOutboundOut(pending), promise: nil)
        pending = context.channel.allocator.buffer(capacity: max(512, size))
    }

    /// Sends DISCONNECT and closes once it is written; nothing more is reported.
    func disconnect() {
        guard state != .ended, let context else { return }
        send(.disconnect(DisconnectPacket()))
        state = .ended
        pinger?.cancel()
        let channel = context.channel
        bytesOut += pending.readableBytes
        context.writeAndFlush(wrapOutboundOut(pending)).whenComplete { _ in channel.close(promise: nil) }
        pending = context.channel.allocator.buffer(capacity: 64)
        delegate.device(self, ended: nil)
    }

    private func end(_ error: BenchError) {
        guard state != .ended else { return }
        state = .ended
        pinger?.cancel()
        delegate.device(self, ended: error)
        context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension ChatDeviceHandler: Sendable {}
