import DequeModule
import Logging
import MQTT
import NIOCore

/// Performs what the `ConnectionStateMachine` decides for one connection:
/// splits the bytes it reads into frames, calls the authenticator, registry
/// and router, writes packets (batched: one write and flush per event-loop
/// tick), runs the connect and keep-alive timers.
///
/// It frames input itself (`MQTTFramer`, what `MQTTFrameDecoder` wraps)
/// rather than behind a `ByteToMessageHandler`: one handler per connection
/// instead of two saves about 500 bytes per connection (the second handler,
/// its pipeline context and its buffers), and between packets it holds no
/// reference to the last read buffer.
final class MQTTConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Frames a client may send after CONNECT before CONNACK is out
    /// (MQTT 5.0 §3.1.4 lets it); past this the connection is dropped.
    static let maximumEarlyFrames = 256

    /// After a DISCONNECT or a refusing CONNACK the output is shut down and
    /// input read and discarded for at most this long, so that a client
    /// still writing reads why it was closed instead of a reset (the kernel
    /// resets a connection closed with unread input).
    static let drainTime: TimeAmount = .seconds(1)
    /// ... and for at most this many bytes.
    static let drainBytes = 64 * 1024

    private var machine: ConnectionStateMachine
    private let server: ServerContext
    private var context: ChannelHandlerContext?
    private var session: MQTTSession?
    private var link: ConnectionLink?
    private var requestedExpiry: UInt32 = 0
    /// The start of a packet whose end has not arrived; nil between packets.
    private var partialInput: ByteBuffer?

    /// Packets to encode. Like `outBuffer`, it holds no storage between
    /// flushes (an `MQTTPacket` is a few hundred bytes).
    private var output: [MQTTPacket] = []
    /// Output encoded this tick. Empty (no storage) between flushes, so an
    /// idle connection holds no output buffer; the next write reserves
    /// about as much as the last flush needed, one allocation per tick.
    private var outBuffer = ByteBuffer()
    private var outBufferReserve = 512
    private var wireVersion: ProtocolVersion = .v311
    private var inReadBurst = false
    private var flushScheduled = false

    /// Frames that came after CONNECT, before CONNACK. Deques and arrays
    /// hold no storage while empty, so a connected client pays nothing here.
    private var earlyFrames = Deque<MQTTFrame>()
    private var earlyDeliveries: [MQTTDelivery] = []
    private var keepAliveInterval: TimeAmount?
    private var lastActivity = NIODeadline.now()
    /// Where this connection waits for its keep-alive check (set by the wheel).
    var keepAliveSlot: (bucket: Int64, index: Int)?
    private var keepAliveWheel: KeepAliveWheel?
    private var connectTimeoutTask: Scheduled<Void>?
    private var takeoverWaiters: [EventLoopPromise<Void>] = []
    /// While half-closed after telling the client why: the bytes of input
    /// still to discard, and the deadline's task.
    private var draining: (bytesLeft: Int, deadline: Scheduled<Void>)?
    private var readingPaused = false
    private var closed = false
    /// The protocol version counted in `relay_sessions` while connected.
    private var countedVersion: ProtocolVersion?

    init(server: ServerContext) {
        self.server = server
        self.machine = ConnectionStateMachine(shared: server.machineConfiguration)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { startConnectTimer(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        draining?.deadline.cancel()
        draining = nil
        self.context = nil
        self.partialInput = nil
        keepAliveWheel?.remove(self)
    }

    func channelActive(context: ChannelHandlerContext) {
        startConnectTimer(context)
        context.fireChannelActive()
    }

    private func startConnectTimer(_ context: ChannelHandlerContext) {
        guard connectTimeoutTask == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        connectTimeoutTask = context.eventLoop.scheduleTask(in: server.configuration.connectTimeout) {
            bound.value.perform(bound.value.machine.connectTimedOut())
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if closed {
            discard(input.readableBytes)
            return
        }
        if var partial = partialInput {
            partialInput = nil
            partial.writeBuffer(&input)
            input = partial
        }
        do {
            // A frame's body is a slice of `input`; an incomplete frame stays
            // in it (MQTTFramer checks the size limit before waiting for it).
            while !machine.isClosed,
                let frame = try MQTTFramer.readFrame(from: &input, maximumPacketSize: server.configuration.maximumPacketSize)
            {
                frameReceived(frame, context: context)
            }
        } catch {
            protocolError(error)
            return
        }
        if input.readableBytes > 0 && !machine.isClosed {
            partialInput = input
        }
    }

    private func frameReceived(_ frame: MQTTFrame, context: ChannelHandlerContext) {
        server.metrics.received(remainingLength: frame.body.readableBytes)
        inReadBurst = true
        lastActivity = context.eventLoop.now
        if machine.isConnected {
            handle(frame)
            return
        }
        switch machine.state {
        case .awaitingConnect:
            handleConnect(frame)
        case .authenticating, .openingSession:
            guard earlyFrames.count < Self.maximumEarlyFrames else {
                perform(.close(.init(reason: .protocolViolation(.receiveMaximumExceeded), will: nil, session: nil, sessionExpiry: 0)))
                return
            }
            earlyFrames.append(frame)
        case .connected, .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        // Flushed by a task, after the flushes this burst queued for the
        // subscribers it delivered to: messages go out before their acks,
        // as soon as possible to the ones waiting for them.
        scheduleFlush()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        draining?.deadline.cancel()
        draining = nil
        perform(machine.connectionLost())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? MQTTError {
            protocolError(error)
        } else {
            log(.debug, "connection error", metadata: ["error": "\(error)"])
            perform(machine.connectionLost())
        }
    }

    /// Input that cannot be framed or decoded, or that breaks the protocol.
    private func protocolError(_ error: MQTTError) {
        log(.debug, "protocol error", metadata: ["error": "\(error)"])
        perform(machine.errorCaught(error, output: &output))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            log(.info, "disconnecting a client that does not read", metadata: ["limit": "\(server.configuration.maximumOutgoingBytes)"])
            perform(machine.outputOverflowed())
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Inbound packets

    private func handleConnect(_ frame: MQTTFrame) {
        do {
            let connect = try MQTTPacket.decodeConnect(frame)
            wireVersion = connect.protocolVersion
            perform(machine.connectReceived(connect, output: &output))
        } catch {
            // A CONNECT that cannot be accepted. Answer in the client's
            // version when it can be told (MQTT 5.0 §3.1.4), else just close.
            var answer: ProtocolVersion?
            switch error.kind {
            case .unsupportedProtocolVersion:
                answer = .v311
            case .clientIdentifierNotValid:
                // A client identifier longer than the server takes: 3.1 and
                // 3.1.1 name return code 2 for it (MQTT 3.1.1 [MQTT-3.1.3-9]).
                answer = Self.claimsVersion5(frame) ? .v5 : .v311
            case .protocolError where frame.packetType != .connect:
                break  // Any packet before CONNECT: close without answer (§3.1.4-1).
            default:
                if Self.claimsVersion5(frame) { answer = .v5 }
            }
            if let answer { wireVersion = answer }
            log(.debug, "refused CONNECT", metadata: ["error": "\(error)"])
            perform(machine.connectFailed(error, answer: answer, output: &output))
        }
    }

    /// Whether a CONNECT frame names protocol level 5 (bytes 0-6: length, "MQTT", level).
    private static func claimsVersion5(_ frame: MQTTFrame) -> Bool {
        frame.packetType == .connect && frame.body.getInteger(at: frame.body.readerIndex + 6, as: UInt8.self) == 5
    }

    private func handle(_ frame: MQTTFrame) {
        do {
            let packet = try MQTTPacket.decode(frame, version: wireVersion)
            perform(machine.packetReceived(packet, now: lastActivity, output: &output))
        } catch {
            log(.debug, "bad packet", metadata: ["error": "\(error)"])
            perform(machine.errorCaught(error, output: &output))
        }
    }

    // MARK: - Actions

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .authenticate(let connect):
            authenticate(connect)
        case .openSession(let request):
            openSession(request)
        case .connected(let keepAlive):
            connectTimeoutTask?.cancel()
            connectTimeoutTask = nil
            if countedVersion == nil {
                countedVersion = wireVersion
                server.metrics.sessions(wireVersion).increment()
            }
            if let keepAlive {
                // The server allows one and a half keep-alive periods (MQTT 5.0 §3.1.2.10).
                keepAliveInterval = .nanoseconds(keepAlive.nanoseconds * 3 / 2)
                scheduleKeepAliveCheck()
            }
            let deliveries = earlyDeliveries
            earlyDeliveries = []
            for delivery in deliveries { deliver(delivery) }
            while machine.isConnected, let frame = earlyFrames.popFirst() {
                handle(frame)
            }
            earlyFrames = []
        case .route(let message, let packetIdentifier):
            route(message, packetIdentifier: packetIdentifier)
        case .subscribe(let id, let request, let refused, let count):
            guard let session else { return }
            let result = request.subscriptions.isEmpty ? MQTTSubscribeResult(reasonCodes: []) : server.router.subscribe(request, from: session)
            machine.subscribeRouted(packetIdentifier: id, result: result, refused: refused, count: count, now: now, output: &output)
        case .unsubscribe(let id, let filters, let refused, let count):
            guard let session else { return }
            let codes = filters.isEmpty ? [] : server.router.unsubscribe(filters, from: session)
            machine.unsubscribeRouted(packetIdentifier: id, reasonCodes: codes, refused: refused, count: count, output: &output)
        case .close(let closing):
            close(closing)
        }
        writeOutput()
    }

    private func authenticate(_ connect: ConnectPacket) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let remote = context.channel.remoteAddress
        server.authenticator.authenticate(connect, remoteAddress: remote, eventLoop: context.eventLoop)
            .hop(to: context.eventLoop)
            .whenComplete { result in
                let handler = bound.value
                let verdict: MQTTAuthenticationResult
                switch result {
                case .success(let v): verdict = v
                case .failure: verdict = .reject(.unspecifiedError, MQTTProperties())
                }
                handler.perform(handler.machine.authenticated(verdict, output: &handler.output))
                handler.flushNow()
            }
    }

    private func openSession(_ request: ConnectionStateMachine.SessionRequest) {
        guard let context else { return }
        let link = ConnectionLink(self, eventLoop: context.eventLoop)
        self.link = link
        requestedExpiry = request.sessionExpiry
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        server.registry.open(request, link: link).whenComplete { result in
            let handler = bound.value
            switch result {
            case .success(let (session, state)):
                handler.session = session
                if handler.machine.isClosed {
                    // The connection died while the session opened: put it back.
                    handler.server.registry.detach(session, link: link, state: state ?? SessionState(), expiry: handler.requestedExpiry, handOver: false)
                    return
                }
                handler.perform(handler.machine.sessionOpened(resumed: state, now: handler.now, output: &handler.output))
                handler.server.router.sessionConnected(session, resumed: state != nil)
                handler.log(.debug, "connected", metadata: ["resumed": "\(state != nil)"])
            case .failure(let error):
                handler.log(.warning, "could not open session", metadata: ["client": "\(request.clientIdentifier)", "error": "\(error)"])
                handler.perform(handler.machine.connectTimedOut())
            }
            handler.flushNow()
        }
    }

    private func route(_ message: MQTTMessage, packetIdentifier: UInt16?) {
        guard let session, let context else { return }
        defer {
            if !readingPaused && session.credit.isExhausted && session.credit.pause() {
                // Subscribers are behind with this publisher's messages: stop
                // reading until they catch up, for a bounded time.
                readingPaused = true
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: DeliveryCredit.maximumPause) {
                    bound.value.resumeReading()
                }
            }
        }
        switch server.router.acknowledgedPublish(message, from: session) {
        case .completed(let ack):
            if let id = packetIdentifier {
                machine.publishRouted(packetIdentifier: id, reasonCode: ack.reasonCode, properties: ack.properties, output: &output)
            }
        case .pending(let future):
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            future.hop(to: context.eventLoop).whenComplete { result in
                guard let id = packetIdentifier else { return }
                let handler = bound.value
                let ack: MQTTPublishAcknowledgement
                switch result {
                case .success(let a): ack = a
                case .failure: ack = MQTTPublishAcknowledgement(reasonCode: .unspecifiedError)
                }
                handler.machine.publishRouted(packetIdentifier: id, reasonCode: ack.reasonCode, properties: ack.properties, output: &handler.output)
                handler.writeOutput()
            }
        }
    }

    // MARK: - Calls from the session and registry (on this event loop)

    /// A message for this connection's session.
    func deliver(_ delivery: MQTTDelivery) {
        if machine.deliver(delivery, now: now, output: &output) {
            writeOutput()
        } else if machine.isClosed {
            // Closed after the delivery was dispatched: give it back to the session.
            var delivery = delivery
            delivery.ticket?.release()
            delivery.ticket = nil
            if let session, session.currentLink?.id != link?.id {
                session.deliver(delivery)
            }
        } else {
            earlyDeliveries.append(delivery)
        }
    }

    /// The deliveries this connection published have caught up: read again.
    func resumeReading() {
        guard readingPaused, let context else { return }
        readingPaused = false
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }

    /// The server disconnects this client.
    func serverDisconnect(_ code: ReasonCode, properties: MQTTProperties) {
        perform(machine.disconnectRequested(code, properties: properties, output: &output))
    }

    /// Another connection takes this one's session; `detached` completes
    /// once the session state is back in the registry.
    func takeOver(sessionContinues: Bool, detached: EventLoopPromise<Void>?) {
        if closed {
            detached?.succeed()
            return
        }
        if let detached { takeoverWaiters.append(detached) }
        perform(machine.takenOver(sessionContinues: sessionContinues, output: &output))
    }

    // MARK: - Closing

    private func close(_ closing: ConnectionStateMachine.Closing) {
        guard !closed else { return }
        closed = true
        if let countedVersion { server.metrics.sessions(countedVersion).decrement() }
        connectTimeoutTask?.cancel()
        keepAliveWheel?.remove(self)
        writeOutput()
        flushNow()
        if closing.drainsInput, let context {
            drain(context)
        } else {
            context?.close(promise: nil)
        }
        log(.debug, "closed", metadata: ["reason": "\(closing.reason)"])

        if let session, let link {
            if let state = closing.session {
                server.registry.detach(session, link: link, state: state, expiry: closing.sessionExpiry, handOver: closing.handsOver)
            }
            if let (will, delay) = closing.will {
                let message = MQTTMessage(topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, properties: Self.messageProperties(of: will))
                if delay == 0 {
                    server.registry.publishWill(message, from: session)
                } else if let loop = context?.eventLoop {
                    let registry = server.registry
                    session.scheduleWill(message, after: delay, on: loop) { will in
                        registry.publishWill(will, from: session)
                    }
                }
            }
        }
        let waiters = takeoverWaiters
        takeoverWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    /// Shuts the output down after the last packet (a FIN, after what is
    /// queued) and reads on, discarding, until the client closes, or
    /// `drainTime` or `drainBytes` is reached: then closes.
    private func drain(_ context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let deadline = context.eventLoop.scheduleTask(in: Self.drainTime) {
            bound.value.stopDraining()
        }
        draining = (Self.drainBytes, deadline)
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.whenFailure { error in
            // Half-closure unsupported here, or the channel is gone: close now.
            bound.value.log(.debug, "no half-closure", metadata: ["error": "\(error)"])
            bound.value.stopDraining()
        }
        context.close(mode: .output, promise: halfClosed)
        if readingPaused {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { error in
                bound.value.log(.debug, "could not resume reading to drain", metadata: ["error": "\(error)"])
                bound.value.stopDraining()
            }
        }
    }

    /// Input that came after the connection closed.
    private func discard(_ bytes: Int) {
        guard let left = draining?.bytesLeft else { return }
        if bytes >= left {
            stopDraining()
        } else {
            draining?.bytesLeft = left - bytes
        }
    }

    private func stopDraining() {
        guard let draining else { return }
        self.draining = nil
        draining.deadline.cancel()
        context?.close(promise: nil)
    }

    private static func messageProperties(of will: ConnectPacket.Will) -> MQTTProperties {
        var properties = will.properties
        properties.willDelayInterval = nil
        return properties
    }

    // MARK: - Timers

    /// The event loop's clock (virtual in tests).
    private var now: NIODeadline { context?.eventLoop.now ?? .now() }

    private func scheduleKeepAliveCheck() {
        guard let interval = keepAliveInterval, let context else { return }
        if keepAliveWheel == nil { keepAliveWheel = server.keepAliveWheel(on: context.eventLoop) }
        keepAliveWheel?.insert(self, deadline: lastActivity + interval)
    }

    /// The keep-alive wheel's check: closes the connection if nothing came
    /// within the allowed time, else waits for the new deadline.
    func keepAliveDue(now: NIODeadline) {
        guard !closed, let interval = keepAliveInterval else { return }
        if now >= lastActivity + interval {
            log(.info, "keep-alive timeout")
            perform(machine.keepAliveExpired(output: &output))
        } else {
            scheduleKeepAliveCheck()
        }
    }

    // MARK: - Logging

    /// Logs with the connection's peer address and client identifier, looked
    /// up only when `level` is enabled: a connection keeps no logger
    /// metadata of its own (it took about 600 bytes per connection).
    private func log(
        _ level: Logger.Level,
        _ message: @autoclosure () -> Logger.Message,
        metadata: @autoclosure () -> Logger.Metadata = [:],
        file: String = #fileID,
        function: String = #function,
        line: UInt = #line
    ) {
        server.logger.log(level: level, message(), metadata: connectionMetadata(metadata()), file: file, function: function, line: line)
    }

    private func connectionMetadata(_ extra: Logger.Metadata) -> Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        if let remote = context?.channel.remoteAddress { metadata["peer"] = "\(remote)" }
        if let session { metadata["client"] = "\(session.clientIdentifier)" }
        metadata.merge(extra) { _, new in new }
        return metadata
    }

    // MARK: - Output

    /// Encodes pending packets into the output buffer and arranges a flush.
    private func writeOutput() {
        for ticket in machine.takeReleasedTickets() { ticket.release() }
        for done in machine.takeAcknowledged() { done() }
        guard !output.isEmpty else { return }
        if outBuffer.capacity == 0 { outBuffer.reserveCapacity(outBufferReserve) }
        let start = outBuffer.writerIndex
        for packet in output {
            do {
                try packet.write(to: &outBuffer, version: wireVersion)
            } catch {
                log(.error, "could not encode a packet", metadata: ["error": "\(error)"])
            }
        }
        server.metrics.packetsOut.increment(by: output.count)
        server.metrics.bytesOut.increment(by: outBuffer.writerIndex - start)
        output.removeAll(keepingCapacity: true)
        guard !inReadBurst else { return }
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !flushScheduled, outBuffer.readableBytes > 0, let context else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.flushScheduled = false
            bound.value.flushNow()
        }
    }

    private func flushNow() {
        guard outBuffer.readableBytes > 0, let context else { return }
        outBufferReserve = min(max(outBuffer.readableBytes, 512), 64 * 1024)
        context.writeAndFlush(wrapOutboundOut(outBuffer), promise: nil)
        outBuffer = ByteBuffer()
        if output.isEmpty { output = [] }
    }
}

@available(*, unavailable)
extension MQTTConnectionHandler: Sendable {}
