import NIOCore

/// Forwards what one channel of a proxied connection reads to the other
/// channel, each chunk at the time ``LinkPacer`` gives it, in order.
///
/// Both channels of a connection live on one event loop, so the queue is
/// touched only there. When more than ``highWater(_:)`` bytes are scheduled
/// or unwritten, reading the source pauses until half of them are written:
/// memory stays bounded however fast the source sends.
final class DelayForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let state: LinkState
    private let destination: any Channel
    private var pacer = LinkPacer()
    private var queue = CircularBuffer<(at: NIODeadline, chunk: ByteBuffer)>()
    private var timer: Scheduled<Void>?
    private var pendingBytes = 0
    private var paused = false
    private var sourceClosed = false

    init(state: LinkState, destination: any Channel) {
        self.state = state
        self.destination = destination
    }

    /// Pause reading past this many pending bytes: the bytes of one second
    /// of delay at the link's rate, at least 64 KiB, at most 16 MiB.
    static func highWater(_ conditions: LinkConditions) -> Int {
        let inFlight = conditions.bytesPerSecond * (conditions.rttMs * 1.5 / 1000 + 0.05)
        return min(16 << 20, max(64 << 10, Int(inFlight)))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        let conditions = state.conditions
        let lost = conditions.loss > 0 && Double.random(in: 0..<1) < conditions.loss
        let at = pacer.arrival(bytes: chunk.readableBytes, now: .now(), conditions: conditions, lost: lost)
        queue.append((at, chunk))
        pendingBytes += chunk.readableBytes
        if !paused && pendingBytes >= Self.highWater(conditions) {
            paused = true
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
        scheduleHead(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        sourceClosed = true
        if queue.isEmpty { destination.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func scheduleHead(context: ChannelHandlerContext) {
        guard timer == nil, let head = queue.first else { return }
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(deadline: head.at) { [self] in
            timer = nil
            deliverDue(context: context)
        }
    }

    private func deliverDue(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        var wrote = false
        while let head = queue.first, head.at <= now {
            queue.removeFirst()
            let bytes = head.chunk.readableBytes
            let promise = context.eventLoop.makePromise(of: Void.self)
            destination.write(head.chunk, promise: promise)
            wrote = true
            promise.futureResult.assumeIsolated().whenComplete { [self] _ in
                written(bytes, context: context)
            }
        }
        if wrote { destination.flush() }
        if queue.isEmpty && sourceClosed {
            destination.close(promise: nil)
        }
        scheduleHead(context: context)
    }

    private func written(_ bytes: Int, context: ChannelHandlerContext) {
        pendingBytes -= bytes
        state.forwarded(bytes)
        if paused && pendingBytes < Self.highWater(state.conditions) / 2 {
            paused = false
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }
}

@available(*, unavailable)
extension DelayForwarder: Sendable {}
