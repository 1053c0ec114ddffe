import Foundation
import MQTT
import NIOCore
import RelayCore
import SwiftProtobuf

/// What one pair reports at the end of a phase.
struct PairOutcome: Sendable {
    var sent: UInt64 = 0
    var acknowledged: UInt64 = 0
    /// Sends refused (a `Status REFUSED`, e.g. rate limited).
    var refused: UInt64 = 0
    var delivered: UInt64 = 0
    var outOfOrder: UInt64 = 0
    var duplicates: UInt64 = 0
    /// At a target rate: messages due when the phase stopped but not sent,
    /// because the window was full of undelivered ones.
    var behind: UInt64 = 0
    /// send → PUBACK and send → the recipient's read of the `Delivery`, ns.
    var ack = LatencyHistogram()
    var delivery = LatencyHistogram()
    /// Monotonic nanoseconds.
    var startedAt: UInt64 = 0
    var stoppedAt: UInt64 = 0
    var lastDeliveredAt: UInt64 = 0
    var timedOut = false
}

/// One 1:1 conversation: a sending device and a receiving device, both on
/// one event loop with this object (reach it through a `NIOLoopBoundBox`).
/// The sender publishes `Send`s on `s/<conversation>` whose ciphertext
/// carries the send time and a sequence number (`BenchPayload`); the
/// receiver reads them from `d/<device>/m` and checks the conversation's
/// seqs arrive in order, without gaps or repeats. At most `window` messages are
/// sent and not yet delivered; at a target rate the sender writes what is
/// due, else (rate 0) as much as the window allows. Before the phases, one
/// message is got through (`probe`), so they start on a working route.
final class ChatPairDriver: ChatDeviceDelegate {
    let index: Int
    let conversation: String
    private let loop: any EventLoop
    private let payloadSize: Int
    private let window: Int
    private let ready: EventLoopPromise<Void>
    private var sender: ChatDeviceHandler?
    private var receiver: ChatDeviceHandler?
    private var readyCount = 0
    private var readyDone = false
    private var failure: BenchError?

    private var nextSequence: UInt64 = 1
    private var lastDelivered: UInt64 = 0
    /// Packet identifier → send time, for PUBACK latency.
    private var unacknowledged: [UInt16: UInt64] = [:]
    /// Sent and neither delivered nor refused.
    private var outstanding = 0
    private var phase: Phase?
    private var probe: Probe?

    private struct Phase {
        var promise: EventLoopPromise<PairOutcome>
        var pacer: SendPacer?
        var sending = true
        var outcome = PairOutcome()
        var timers: [Scheduled<Void>] = []
        var tick: Scheduled<Void>?
        var tickInterval = TimeAmount.milliseconds(1)
    }

    private struct Probe {
        var promise: EventLoopPromise<Void>
        var retryInterval: TimeAmount
        var deadline: Scheduled<Void>
        var retry: Scheduled<Void>?
        var delivered = false
        /// The relay's reason for the last refusal, for the timeout's message.
        var lastRefusal: String?
    }

    init(index: Int, conversation: String, payloadSize: Int, window: Int, loop: any EventLoop, ready: EventLoopPromise<Void>) {
        self.index = index
        self.conversation = conversation
        self.payloadSize = payloadSize
        self.window = window
        self.loop = loop
        self.ready = ready
    }

    /// Handler index 0 is the sender, 1 the receiver.
    func attach(_ handler: ChatDeviceHandler) {
        if handler.index == 0 { sender = handler } else { receiver = handler }
    }

    func setupDeadlinePassed() {
        guard readyCount < 2, failure == nil else { return }
        fail(BenchError(.timedOut, "pair \(index): not connected and subscribed in time"))
    }

    // MARK: Probe

    /// Sends one message and succeeds once it is delivered and
    /// acknowledged; while it is refused, sends another every
    /// `retryInterval`: across regions a conversation is refused until the
    /// sender's region knows its home (the first user's directory entry,
    /// replicated when that user's device connects in another region).
    /// Fails when `timeout` runs out first.
    func startProbe(retryInterval: TimeAmount, timeout: TimeAmount) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        if let failure {
            promise.fail(failure)
            return promise.futureResult
        }
        let deadline = loop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard let probe else { return }
            let reason = probe.lastRefusal.map { "refused: \($0)" } ?? "not delivered"
            fail(BenchError(.timedOut, "pair \(index): the first message did not get through in time (\(reason))"))
        }
        probe = Probe(promise: promise, retryInterval: retryInterval, deadline: deadline)
        sendProbe()
        return promise.futureResult
    }

    private func sendProbe() {
        guard probe != nil, let sender, sender.isReady else { return }
        probe?.retry = nil
        write(1, at: NIODeadline.now().uptimeNanoseconds, on: sender)
    }

    private func probeRefused(_ reason: String) {
        guard let probe else { return }
        self.probe?.lastRefusal = reason
        self.probe?.retry = loop.assumeIsolated().scheduleTask(in: probe.retryInterval) { [self] in sendProbe() }
    }

    private func checkProbe() {
        guard let probe, probe.delivered, unacknowledged.isEmpty else { return }
        self.probe = nil
        probe.deadline.cancel()
        probe.promise.succeed(())
    }

    // MARK: Phases

    /// Sends for `duration` at `rate` messages per second (0: as fast as the
    /// window allows), the first one `offset` after the start, then waits up
    /// to `drainTimeout` for every message to be delivered and acknowledged.
    func startPhase(duration: TimeAmount, rate: Double, offset: TimeAmount = .zero, drainTimeout: TimeAmount) -> EventLoopFuture<PairOutcome> {
        let promise = loop.makePromise(of: PairOutcome.self)
        if let failure {
            promise.fail(failure)
            return promise.futureResult
        }
        let now = NIODeadline.now()
        var phase = Phase(promise: promise, pacer: nil)
        phase.outcome.startedAt = now.uptimeNanoseconds
        if rate > 0 {
            phase.pacer = SendPacer(rate: rate, start: (now + offset).uptimeNanoseconds)
            phase.tickInterval = .nanoseconds(max(1_000_000, Int64(1e9 / rate)))
        }
        let isolated = loop.assumeIsolated()
        phase.timers.append(isolated.scheduleTask(deadline: now + duration) { [self] in stopSending() })
        phase.timers.append(isolated.scheduleTask(deadline: now + duration + drainTimeout) { [self] in
            self.phase?.outcome.timedOut = true
            finish()
        })
        self.phase = phase
        pump()
        if phase.pacer != nil { scheduleTick() }
        return promise.futureResult
    }

    /// At a target rate, sends what is due every tick (1 ms, or the
    /// interval between two messages when that is longer).
    private func scheduleTick() {
        guard let interval = phase?.tickInterval, phase?.sending == true else { return }
        phase?.tick = loop.assumeIsolated().scheduleTask(in: interval) { [self] in
            pump()
            scheduleTick()
        }
    }

    private func stopSending() {
        guard var phase, phase.sending else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        phase.sending = false
        phase.tick?.cancel()
        phase.tick = nil
        phase.outcome.stoppedAt = now
        if let pacer = phase.pacer {
            let due = pacer.due(at: now)
            phase.outcome.behind = due > phase.outcome.sent ? due - phase.outcome.sent : 0
        }
        self.phase = phase
        checkDrained()
    }

    private func checkDrained() {
        guard let phase, !phase.sending, outstanding == 0, unacknowledged.isEmpty else { return }
        finish()
    }

    private func finish() {
        guard let phase else { return }
        self.phase = nil
        phase.tick?.cancel()
        for timer in phase.timers { timer.cancel() }
        phase.promise.succeed(phase.outcome)
    }

    /// Writes what is due (or what the window allows).
    private func pump() {
        guard var phase, phase.sending, let sender, sender.isReady else { return }
        let room = min(window - outstanding, sender.serverReceiveMaximum - unacknowledged.count)
        let now = NIODeadline.now().uptimeNanoseconds
        let count: Int
        if let pacer = phase.pacer {
            count = pacer.toSend(at: now, sent: phase.outcome.sent, room: room)
        } else {
            // Refill a quarter window at a time, so writes are batched.
            count = room >= max(1, window / 4) || outstanding == 0 ? room : 0
        }
        guard count > 0 else { return }
        phase.outcome.sent += UInt64(count)
        self.phase = phase
        write(count, at: now, on: sender)
    }

    /// Publishes `count` sends stamped `now`, then flushes.
    private func write(_ count: Int, at now: UInt64, on sender: ChatDeviceHandler) {
        for _ in 0..<count {
            var send = Relay_V1_Send()
            send.clientMessageID = String(nextSequence)
            let payload = BenchPayload.make(sentAt: now, sequence: nextSequence, size: payloadSize, allocator: ByteBufferAllocator())
            send.ciphertext = Data(payload.readableBytesView)
            let bytes: [UInt8] = (try? send.serializedBytes()) ?? []
            let (id, _) = sender.publish(topic: "s/\(conversation)", payload: ByteBuffer(bytes: bytes))
            unacknowledged[id] = now
            nextSequence += 1
            outstanding += 1
        }
        sender.flush()
    }

    // MARK: ChatDeviceDelegate

    func deviceReady(_ device: ChatDeviceHandler) {
        readyCount += 1
        if readyCount == 2 && !readyDone {
            readyDone = true
            ready.succeed(())
        }
    }

    func device(_ device: ChatDeviceHandler, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64) {
        if device.index == 1 {
            guard topic.hasSuffix("/m"),
                  let delivery = try? Relay_V1_Delivery(serializedBytes: Array(publish.payload.readableBytesView)),
                  let (sentAt, _) = BenchPayload.read(ByteBuffer(bytes: delivery.ciphertext))
            else { return }
            received(seq: delivery.seq, sentAt: sentAt, at: now)
        } else if topic.hasSuffix("/s"),
                  let status = try? Relay_V1_Status(serializedBytes: Array(publish.payload.readableBytesView)),
                  status.kind == .refused {
            outstanding -= 1
            phase?.outcome.refused += 1
            probeRefused("\(status.error.code): \(status.error.message)")
            checkDrained()
        }
    }

    /// Order is the relay's: sends in flight together may be sequenced in
    /// any order, so the check is on the conversation's `seq`, which must
    /// come without gaps or repeats.
    private func received(seq: UInt64, sentAt: UInt64, at now: UInt64) {
        guard seq > lastDelivered else {
            phase?.outcome.duplicates += 1
            return
        }
        outstanding -= 1
        guard var phase else {
            lastDelivered = seq
            probe?.delivered = true
            checkProbe()
            return
        }
        if seq != lastDelivered + 1 { phase.outcome.outOfOrder += 1 }
        lastDelivered = seq
        phase.outcome.delivered += 1
        phase.outcome.lastDeliveredAt = now
        if now >= sentAt { phase.outcome.delivery.record(now - sentAt) }
        self.phase = phase
        checkDrained()
    }

    func device(_ device: ChatDeviceHandler, acknowledged packetIdentifier: UInt16, reason: ReasonCode, at now: UInt64) {
        guard let sentAt = unacknowledged.removeValue(forKey: packetIdentifier) else { return }
        phase?.outcome.acknowledged += 1
        if now >= sentAt { phase?.outcome.ack.record(now - sentAt) }
        checkDrained()
        checkProbe()
    }

    func deviceReadComplete(_ device: ChatDeviceHandler) {
        pump()
    }

    func device(_ device: ChatDeviceHandler, ended error: BenchError?) {
        if let error { fail(error) }
    }

    private func fail(_ error: BenchError) {
        guard failure == nil else { return }
        failure = error
        if !readyDone {
            readyDone = true
            ready.fail(error)
        }
        if let phase {
            self.phase = nil
            phase.tick?.cancel()
            for timer in phase.timers { timer.cancel() }
            phase.promise.fail(error)
        }
        if let probe {
            self.probe = nil
            probe.deadline.cancel()
            probe.retry?.cancel()
            probe.promise.fail(error)
        }
    }

    /// DISCONNECTs both devices.
    func close() {
        phase?.tick?.cancel()
        probe?.retry?.cancel()
        sender?.disconnect()
        receiver?.disconnect()
    }
}

@available(*, unavailable)
extension ChatPairDriver: Sendable {}
