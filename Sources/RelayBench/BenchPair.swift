import MQTT
import NIOCore

/// What one pair reports at the end of a publishing phase.
struct PhaseOutcome: Sendable {
    var sent: UInt64 = 0
    var received: UInt64 = 0
    var outOfOrder: UInt64 = 0
    /// Deliveries left over from an earlier phase.
    var stale: UInt64 = 0
    /// Deliveries whose payload was too short to read.
    var malformed: UInt64 = 0
    /// PUBACKs for identifiers not in flight.
    var unexpectedAcks: UInt64 = 0
    /// QoS 1 PUBLISHes still without PUBACK when the phase ended.
    var unacknowledged: UInt64 = 0
    var latency = LatencyHistogram()
    /// Monotonic nanoseconds: first PUBLISH written, last message received,
    /// publishers stopped.
    var startedAt: UInt64 = 0
    var lastReceivedAt: UInt64 = 0
    var stoppedAt: UInt64 = 0
    /// The phase hit its deadline before draining.
    var timedOut = false
    /// The effective window (the requested one, lowered to the server's Receive Maximum).
    var window = 0
}

/// One publisher connection and one subscriber connection on a topic of their
/// own. Both connections live on the same event loop, and so does this
/// object: the handlers call into it, and it tells the publisher handler what
/// to write. Not thread-safe; reach it through a `NIOLoopBoundBox`.
final class BenchPair {
    let index: Int
    let topic: String
    let publisherClientID: String
    let subscriberClientID: String
    private let configuration: MQTTBenchConfiguration
    private let eventLoop: EventLoop
    private let qos1: Bool

    private var publisher: BenchConnectionHandler?
    private var subscriber: BenchConnectionHandler?

    // Setup.
    private let ready: EventLoopPromise<Void>
    private var publisherConnected = false
    private var subscriberSubscribed = false
    private var closing = false

    // Publishing.
    private var window: PublishWindow
    private var tracker = SequenceTracker()
    private var nextSequence: UInt64 = 0
    private var phase: Phase = .idle

    private enum Phase {
        case idle
        case publishing
        case draining
    }

    private struct PhaseState {
        var promise: EventLoopPromise<PhaseOutcome>
        var messageLimit: UInt64?
        var stopAt: UInt64?
        var sent: UInt64 = 0
        var startedAt: UInt64 = 0
        var stoppedAt: UInt64 = 0
        var lastReceivedAt: UInt64 = 0
        var lastProgressAt: UInt64 = 0
        var progressMark: UInt64 = 0
        var timers: [Scheduled<Void>] = []
        var drainCheck: Scheduled<Void>?
    }
    private var current: PhaseState?

    init(index: Int, runID: String, configuration: MQTTBenchConfiguration, eventLoop: EventLoop, ready: EventLoopPromise<Void>) {
        self.index = index
        self.topic = "bench/\(runID)/\(index)"
        self.publisherClientID = "rb-\(runID)-p\(index)"
        self.subscriberClientID = "rb-\(runID)-s\(index)"
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.qos1 = configuration.qos == .atLeastOnce
        self.ready = ready
        self.window = PublishWindow(limit: configuration.inflight, qos1: configuration.qos == .atLeastOnce)
    }

    func attach(_ handler: BenchConnectionHandler) {
        switch handler.role {
        case .publisher: publisher = handler
        case .subscriber: subscriber = handler
        }
    }

    // MARK: Setup

    func connAckReceived(_ role: BenchConnectionHandler.Role, _ connAck: ConnAckPacket) {
        switch role {
        case .publisher:
            if qos1, let receiveMaximum = connAck.properties.receiveMaximum {
                window.clamp(to: Int(receiveMaximum))
            }
            publisherConnected = true
        case .subscriber:
            let subscription = Subscription(topicFilter: topic, options: SubscriptionOptions(qos: configuration.qos))
            subscriber?.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [subscription])))
            subscriber?.flush()
        }
        checkReady()
    }

    func subAckReceived(_ subAck: SubAckPacket) throws(BenchError) {
        guard subAck.packetIdentifier == 1, let code = subAck.reasonCodes.first, subAck.reasonCodes.count == 1 else {
            throw BenchError(.protocolViolation, "pair \(index): SUBACK does not answer the SUBSCRIBE")
        }
        guard !code.isFailure else {
            throw BenchError(.protocolViolation, "pair \(index): SUBSCRIBE refused with \(code)")
        }
        guard code.rawValue >= configuration.qos.rawValue else {
            throw BenchError(.protocolViolation, "pair \(index): granted QoS \(code.rawValue), asked \(configuration.qos.rawValue)")
        }
        subscriberSubscribed = true
        checkReady()
    }

    private func checkReady() {
        if publisherConnected && subscriberSubscribed {
            ready.succeed(())
        }
    }

    /// Called at the setup deadline; fails setup if it has not finished.
    func setupDeadlinePassed() {
        ready.fail(BenchError(.timedOut, "pair \(index): no CONNACK/SUBACK within the setup timeout"))
    }

    // MARK: Phases

    /// Starts publishing; the future completes once the publisher has
    /// stopped and the subscriber has drained (or the phase timed out).
    func startPhase(messageLimit: UInt64?, duration: TimeAmount?) -> EventLoopFuture<PhaseOutcome> {
        let promise = eventLoop.makePromise(of: PhaseOutcome.self)
        guard case .idle = phase, !closing else {
            promise.fail(BenchError(.connectionFailed, "pair \(index): not ready to publish"))
            return promise.futureResult
        }
        let now = Self.now()
        var state = PhaseState(promise: promise, messageLimit: messageLimit)
        state.startedAt = now
        state.lastProgressAt = now
        if let duration {
            state.stopAt = now + UInt64(duration.nanoseconds)
            state.timers.append(eventLoop.assumeIsolated().scheduleTask(in: duration) { [self] in
                if case .publishing = phase { stopPublishing() }
            })
        }
        state.timers.append(eventLoop.assumeIsolated().scheduleTask(in: configuration.phaseTimeout) { [self] in
            finishPhase(timedOut: true)
        })
        tracker.reset(firstSequence: nextSequence)
        window.forgetUndelivered()
        current = state
        phase = .publishing
        pump()
        return promise.futureResult
    }

    /// Writes PUBLISHes while the window is open, then flushes once.
    func pump() {
        guard case .publishing = phase, var state = current, let publisher, publisher.isWritable else { return }
        guard window.isWorthRefilling || stopIsDue(state) else { return }
        let allocator = publisher.allocator
        var wrote = false
        var stop = false
        while window.isOpen {
            if let limit = state.messageLimit, state.sent >= limit {
                stop = true
                break
            }
            let now = Self.now()
            if let stopAt = state.stopAt, now >= stopAt {
                stop = true
                break
            }
            let packetIdentifier = window.take()
            let payload = BenchPayload.make(
                sentAt: now, sequence: nextSequence, size: configuration.payloadSize, allocator: allocator
            )
            publisher.send(.publish(PublishPacket(
                topicName: topic, payload: payload, qos: configuration.qos, packetIdentifier: packetIdentifier
            )))
            nextSequence += 1
            state.sent += 1
            wrote = true
        }
        if let limit = state.messageLimit, state.sent >= limit { stop = true }
        current = state
        if wrote { publisher.flush() }
        if stop { stopPublishing() }
    }

    private func stopIsDue(_ state: PhaseState) -> Bool {
        if let limit = state.messageLimit, state.sent >= limit { return true }
        if let stopAt = state.stopAt, Self.now() >= stopAt { return true }
        return false
    }

    private func stopPublishing() {
        guard case .publishing = phase, var state = current else { return }
        phase = .draining
        let now = Self.now()
        state.stoppedAt = now
        state.lastProgressAt = now
        state.progressMark = progressMark
        current = state
        if isDrained {
            finishPhase(timedOut: false)
        } else {
            scheduleDrainCheck()
        }
    }

    /// While draining, checks every 10 ms whether the phase is over: all
    /// delivered, or nothing new for the quiet period.
    private func scheduleDrainCheck() {
        current?.drainCheck = eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { [self] in
            guard case .draining = phase, var state = current else { return }
            let now = Self.now()
            let mark = progressMark
            if mark != state.progressMark {
                state.progressMark = mark
                state.lastProgressAt = now
                current = state
            }
            if isDrained || now - state.lastProgressAt >= UInt64(configuration.drainQuietPeriod.nanoseconds) {
                finishPhase(timedOut: false)
            } else {
                scheduleDrainCheck()
            }
        }
    }

    /// Every message delivered and, at QoS 1, every PUBLISH acknowledged.
    private var isDrained: Bool {
        guard let state = current else { return false }
        return tracker.received >= state.sent && (!qos1 || window.inFlight == 0)
    }

    /// Grows whenever something is received or acknowledged.
    private var progressMark: UInt64 {
        tracker.received &+ tracker.stale &+ tracker.malformed &+ window.acknowledgedCount
    }

    private func finishPhase(timedOut: Bool, error: Error? = nil) {
        guard let state = current else { return }
        current = nil
        phase = .idle
        for timer in state.timers { timer.cancel() }
        state.drainCheck?.cancel()
        if let error {
            state.promise.fail(error)
            return
        }
        var outcome = PhaseOutcome()
        outcome.sent = state.sent
        outcome.received = tracker.received
        outcome.outOfOrder = tracker.outOfOrder
        outcome.stale = tracker.stale
        outcome.malformed = tracker.malformed
        outcome.unexpectedAcks = UInt64(window.unexpectedAcks)
        outcome.unacknowledged = qos1 ? UInt64(window.inFlight) : 0
        outcome.latency = tracker.latency
        outcome.startedAt = state.startedAt
        outcome.lastReceivedAt = state.lastReceivedAt
        outcome.stoppedAt = state.stoppedAt == 0 ? Self.now() : state.stoppedAt
        outcome.timedOut = timedOut
        outcome.window = window.limit
        state.promise.succeed(outcome)
    }

    // MARK: Traffic

    /// The subscriber got a PUBLISH.
    func delivered(_ publish: PublishPacket) {
        let now = Self.now()
        guard let fields = BenchPayload.read(publish.payload) else {
            tracker.recordMalformed()
            return
        }
        if tracker.record(sequence: fields.sequence, sentAt: fields.sentAt, now: now) {
            current?.lastReceivedAt = now
            window.delivered()
        }
    }

    /// The publisher got a PUBACK.
    func acknowledged(_ packetIdentifier: UInt16) {
        window.acknowledged(packetIdentifier)
    }

    /// A read burst ended on one of the connections: refill the window.
    func readComplete(_ role: BenchConnectionHandler.Role) {
        switch role {
        case .publisher: if qos1 { pump() }
        case .subscriber: if !qos1 { pump() }
        }
        if case .draining = phase, isDrained { finishPhase(timedOut: false) }
    }

    func becameWritable(_ role: BenchConnectionHandler.Role) {
        if role == .publisher { pump() }
    }

    // MARK: Ending

    /// A connection failed or closed. Fails setup and any running phase, unless the run is closing.
    func connectionEnded(_ role: BenchConnectionHandler.Role, error: Error?) {
        guard !closing else { return }
        let failure = BenchError(
            .connectionFailed,
            "pair \(index) \(role) connection " + (error.map { "failed: \($0)" } ?? "closed by the broker")
        )
        ready.fail(failure)
        finishPhase(timedOut: false, error: failure)
    }

    /// Sends DISCONNECT on both connections and closes them.
    func close() {
        closing = true
        finishPhase(timedOut: false, error: BenchError(.connectionFailed, "pair \(index): closed"))
        publisher?.disconnect()
        subscriber?.disconnect()
    }

    static func now() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }
}

@available(*, unavailable)
extension BenchPair: Sendable {}
