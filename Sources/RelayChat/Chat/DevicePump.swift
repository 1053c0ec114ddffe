import Foundation
import Logging
import MQTT
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import Synchronization

/// What a ``DevicePump`` tells the chat router (which acts on it for the
/// pump's device, user, session and home region).
protocol DevicePumpDelegate: AnyObject, Sendable {
    /// The device acknowledged `message` (seq `seq` of `conversation`).
    func pump(_ pump: DevicePump, delivered message: ChatStore.StoredMessage, seq: UInt64, in conversation: String)
    /// Messages of `conversation` were skipped past the device's queue cap.
    func pump(_ pump: DevicePump, overflowed conversation: String, skipped: UInt64)
    /// The pump wrote these changes of the device's state to the store.
    func pump(_ pump: DevicePump, stored changes: [DevicePump.StoredChange])
}

/// Moves what waits for one connected device to its MQTT session, at most
/// `window` QoS 1 deliveries in flight:
///
/// - messages: for each conversation marked dirty for the device, the
///   conversation log from the device's cursor, in seq order; the device's
///   PUBACKs move the cursor (in order, so a message skipped because it
///   expired or is the device's own never jumps the cursor past one still
///   unacknowledged), and tell the sender "delivered";
/// - statuses and events: the device's queue, removed on PUBACK.
///
/// Woken when the device connects, when its node hears the device's
/// channel (unless the wake-up names what the pump already handed over), and
/// when an acknowledgement frees the window after a wake-up found it full.
/// What the node has just stored for the device is also offered to the pump
/// (`offer`), which hands it over at once when it is next in line, without
/// reading it back (docs/decisions/0008). A new connection starts a new pump
/// from the cursors, so anything unacknowledged is sent again: delivery is at
/// least once, and devices drop duplicates by (conversation, seq).
final class DevicePump: Sendable {
    /// A change the pump made to the device's state in the store (mirrored
    /// to the standby in a multi-region deployment).
    enum StoredChange: Sendable {
        /// The device's cursor in a conversation moved to a seq.
        case cursor(conversation: String, seq: UInt64)
        /// A status or event left the device's queue.
        case entry([UInt8])
    }

    let device: String
    let user: String
    /// The user's home region.
    let home: String
    let session: MQTTSession
    private let store: ChatStore
    /// The loop the pump runs on.
    let loop: any EventLoop
    private let window: Int
    private let maximumBehind: Int
    private let logger: Logger
    /// Told what the pump did (one reference for every pump, where three
    /// closures per pump cost ~190 bytes of every connected device).
    private let delegate: any DevicePumpDelegate
    private let metrics: DeliveryMetrics
    /// How often a compact table is checked for use; an unused one is cleared.
    private let compactIdleCheck: TimeAmount
    /// The decisions (the pump performs them) and the acknowledgements not
    /// written yet (those of one turn of the pump's event loop are written
    /// together, ``flushAcknowledgements()``), under one lock held inline:
    /// no allocation of its own per connected device.
    private let state: Mutex<Locked>

    struct Locked: Sendable {
        var machine: DevicePumpMachine
        var acknowledgements = PendingAcknowledgements()
        /// The session's compact deliveries, once the device asked (docs/decisions/0030).
        var compact: CompactSession?
    }

    /// What the device acknowledged and the store does not know yet.
    struct PendingAcknowledgements: Sendable {
        /// The cursor each conversation moves to (the highest seen).
        var cursors: [String: UInt64] = [:]
        /// Entries to take off the queue.
        var entries: [[UInt8]] = []
        /// A write is scheduled on the pump's loop.
        var scheduled = false

        var isEmpty: Bool { cursors.isEmpty && entries.isEmpty }
    }

    init(
        device: String,
        user: String,
        home: String = "",
        session: MQTTSession,
        store: ChatStore,
        loop: any EventLoop,
        window: Int,
        maximumBehind: Int,
        logger: Logger,
        metrics: DeliveryMetrics = DeliveryMetrics(),
        compactIdleCheck: TimeAmount = .seconds(60),
        delegate: any DevicePumpDelegate
    ) {
        self.device = device
        self.user = user
        self.home = home
        self.delegate = delegate
        self.session = session
        self.store = store
        self.loop = loop
        self.window = window
        self.maximumBehind = maximumBehind
        self.logger = logger
        self.metrics = metrics
        self.compactIdleCheck = compactIdleCheck
        self.state = Mutex(Locked(machine: DevicePumpMachine(window: window)))
    }

    func stop() {
        state.withLock { $0.machine.stop() }
    }

    // MARK: - Compact deliveries (docs/decisions/0030)

    /// The session's compact deliveries, if the device ever asked.
    var compactSession: CompactSession? {
        state.withLock { $0.compact }
    }

    /// `q/deliveries.compact`: the compact form on or off for this session
    /// from the next delivery on; returns the table as it stands.
    func compactDeliveries(_ on: Bool) -> Relay_V1_CompactRefs {
        let compact = state.withLock { state -> CompactSession in
            if let compact = state.compact { return compact }
            let compact = CompactSession()
            state.compact = compact
            return compact
        }
        return compact.set(on: on)
    }

    /// Takes over the compact deliveries of the pump this one follows in the
    /// same MQTT session (resumed): what the session resends was compacted
    /// with that table, so the table goes on.
    func adopt(_ compact: CompactSession) {
        state.withLock { $0.compact = compact }
        if compact.takeNeedsCheck() { scheduleCompactCheck(compact) }
    }

    private func scheduleCompactCheck(_ compact: CompactSession) {
        loop.scheduleTask(in: compactIdleCheck) {
            guard !self.state.withLock({ $0.machine.stopped }) else {
                compact.checksStopped()
                return
            }
            if compact.idleCheck() { self.scheduleCompactCheck(compact) }
        }
    }

    /// Reads more if the window has room.
    func wake() {
        guard let read = state.withLock({ $0.machine.wake() }) else { return }
        fetch(read.queuePosition, handed: read.handed, room: read.room).whenComplete { result in
            switch result {
            case .success(let batch):
                let outcome = DevicePumpMachine.ReadResult(
                    queuePositions: batch.queued.map(\.position), queueCounter: batch.queueCounter, cursors: batch.cursors,
                    messages: batch.messages.map { ($0.conversation, $0.seq) })
                let again = self.state.withLock { $0.machine.readCompleted(read, outcome) }
                for (conversation, skipped) in batch.overflow { self.delegate.pump(self, overflowed: conversation, skipped: skipped) }
                for item in batch.queued { self.deliverQueued(item) }
                for item in batch.messages { self.deliverMessage(item) }
                if again { self.wake() }
            case .failure(let error):
                self.logger.warning("device queue read failed", metadata: ["device": "\(self.device)", "error": "\(error)"])
                self.state.withLock { $0.machine.readFailed() }
                self.loop.scheduleTask(in: .seconds(1)) { self.wake() }
            }
        }
    }

    /// Reads again if a wake-up found the window full (called as it frees).
    private func wakeIfBehind() {
        if state.withLock({ $0.machine.takeBehind() }) { wake() }
    }

    /// The device's channel said `conversation` has messages up to `seq`:
    /// reads unless they were handed over or acknowledged already.
    func woken(conversation: String, seq: UInt64) {
        if state.withLock({ $0.machine.needsRead(conversation: conversation, upTo: seq) }) { wake() }
    }

    /// The device's channel said its queue has entries up to `position`:
    /// reads unless they were handed over already.
    func woken(queuePosition position: Int) {
        if state.withLock({ $0.machine.queueNoticed(upTo: position) }) { wake() }
    }

    /// This node is about to put entries on the device's queue: a notice of
    /// them waits for their offers (``enqueueEnded()`` follows, whatever the
    /// outcome). Synchronous, so that it precedes any notice.
    func enqueueStarted() {
        state.withLock { $0.machine.enqueueStarted() }
    }

    /// The enqueue announced by ``enqueueStarted()`` ended; its offers, made
    /// before this call, are taken first (both run in order on the loop).
    func enqueueEnded() {
        onLoop {
            if self.state.withLock({ $0.machine.enqueueEnded() }) { self.wake() }
        }
    }

    /// A message this node just stored and marked for the device (or the
    /// device's own, sent from here): handed over at once when it is the
    /// next seq the device needs in its conversation and the window has
    /// room; the device's own is stepped over. Otherwise the pump reads the
    /// store (or a read in progress will find it).
    func offer(_ message: OfferedMessage) {
        onLoop { self.take(message) }
    }

    /// An entry this node just put on the device's queue at `position`:
    /// handed over at once when it is the next position and the window has
    /// room, else the pump reads the queue.
    func offer(entry: [UInt8], at position: Int) {
        onLoop { self.take(entry: entry, at: position) }
    }

    /// `conversation` continues under a new epoch from `seq` and the device's
    /// cursor was moved back before it: what the pump handed over or saw
    /// acknowledged from there on is forgotten (an acknowledgement of such a
    /// message no longer moves the cursor), and it reads again.
    func rewind(_ conversation: String, to seq: UInt64) {
        onLoop {
            self.state.withLock { $0.machine.rewind(conversation, to: seq) }
            self.wake()
        }
    }

    /// Runs `body` on the pump's event loop, where reads complete: hand-overs
    /// reach the session in the order the pump decided them.
    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    private func take(_ offered: OfferedMessage) {
        let message = offered.message
        let conversation = message.conversation
        let own = message.device == device
        switch state.withLock({ $0.machine.offered(conversation: conversation, seq: message.seq, own: own) }) {
        case .deliver:
            let (stored, payload) = offered.delivery(for: device)
            deliverMessage(MessageItem(conversation: conversation, seq: message.seq, stored: stored, payload: payload))
        case .read:
            wake()
        case .none:
            break
        }
    }

    private func take(entry: [UInt8], at position: Int) {
        switch state.withLock({ $0.machine.offered(queuePosition: position) }) {
        case .deliver: deliverQueued(queuedItem(position: position, entry: entry))
        case .read: wake()
        case .none: break
        }
    }

    struct QueuedItem: Sendable {
        var position: Int
        var entry: [UInt8]
        var topic: String?
        var payload: [UInt8]
    }

    struct MessageItem: Sendable {
        var conversation: String
        var seq: UInt64
        /// Nil when there is nothing to send: expired, or the device's own.
        var stored: ChatStore.StoredMessage?
        /// Its `Delivery`, encoded already (an offered message, encoded once
        /// for every device); nil: encoded when sent.
        var payload: ByteBuffer? = nil
    }

    struct Batch: Sendable {
        var queued: [QueuedItem] = []
        var messages: [MessageItem] = []
        var overflow: [(String, UInt64)] = []
        /// The device's cursors.
        var cursors: [String: UInt64] = [:]
        /// The queue's position counter when the read saw every entry past the position it asked from.
        var queueCounter: Int?
    }

    private func fetch(_ queuePosition: Int, handed: [String: UInt64], room: Int) -> EventLoopFuture<Batch> {
        store.snapshot(device: device, statusAfter: queuePosition, limit: room, on: loop).flatMap { snapshot in
            let queued = snapshot.queued.map { self.queuedItem(position: $0.position, entry: $0.entry) }
            let counter = queued.count < room ? snapshot.counter : nil
            let room = room - queued.count
            guard room > 0 else {
                return self.loop.makeSucceededFuture(Batch(queued: queued, cursors: snapshot.cursors, queueCounter: counter))
            }
            let unknown = snapshot.dirty.map(\.conversation).filter { snapshot.cursors[$0] == nil }
            return self.store.joined(user: self.user, conversations: unknown, on: self.loop).flatMap { joined in
                self.metrics.backlog(Self.backlog(snapshot, joined: joined))
                let (ranges, overflow) = self.plan(snapshot, joined: joined, handed: handed)
                return self.store.logRanges(ranges, limit: room, on: self.loop).flatMap { seqsByRange in
                    let refs = Self.interleave(ranges.map(\.conversation), seqsByRange, limit: room)
                    return self.store.messages(refs, for: self.device, on: self.loop).map { stored in
                        let messages = zip(refs, stored).map { ref, message in
                            // The device's own messages are not sent back to it.
                            MessageItem(conversation: ref.conversation, seq: ref.seq, stored: message?.device == self.device ? nil : message)
                        }
                        return Batch(queued: queued, messages: messages, overflow: overflow, cursors: snapshot.cursors, queueCounter: counter)
                    }
                }
            }
        }
    }

    /// The log ranges to read: from the cursor (or where the user joined),
    /// past what is already in flight, up to the highest seq fanned out;
    /// a device more than `maximumBehind` behind skips ahead (reported).
    private func plan(
        _ snapshot: ChatStore.PumpSnapshot,
        joined: [String: UInt64],
        handed: [String: UInt64]
    ) -> ([(conversation: String, after: UInt64, upTo: UInt64)], [(String, UInt64)]) {
        var ranges: [(conversation: String, after: UInt64, upTo: UInt64)] = []
        var overflow: [(String, UInt64)] = []
        for (conversation, latest) in snapshot.dirty {
            var after = max(snapshot.cursors[conversation] ?? joined[conversation] ?? 0, handed[conversation] ?? 0)
            if latest > after + UInt64(maximumBehind) {
                overflow.append((conversation, latest - UInt64(maximumBehind) - after))
                after = latest - UInt64(maximumBehind)
            }
            if latest > after { ranges.append((conversation, after, latest)) }
        }
        return (ranges, overflow)
    }

    /// Messages waiting for the device: in each conversation marked for it,
    /// those past its cursor (or past where the user joined), in flight included.
    static func backlog(_ snapshot: ChatStore.PumpSnapshot, joined: [String: UInt64]) -> Int {
        snapshot.dirty.reduce(0) { total, mark in
            let after = snapshot.cursors[mark.conversation] ?? joined[mark.conversation] ?? 0
            return total + Int(clamping: mark.latest > after ? mark.latest - after : 0)
        }
    }

    /// Takes seqs from each conversation in turn (each in order), up to `limit`.
    static func interleave(_ conversations: [String], _ seqs: [[UInt64]], limit: Int) -> [(conversation: String, seq: UInt64)] {
        var refs: [(conversation: String, seq: UInt64)] = []
        var iterators = seqs.map { $0.makeIterator() }
        var progress = true
        while refs.count < limit && progress {
            progress = false
            for i in iterators.indices where refs.count < limit {
                if let seq = iterators[i].next() {
                    refs.append((conversations[i], seq))
                    progress = true
                }
            }
        }
        return refs
    }

    private func queuedItem(position: Int, entry: [UInt8]) -> QueuedItem {
        switch QueueEntry(bytes: entry) {
        case .status(let payload): return QueuedItem(position: position, entry: entry, topic: "d/\(device)/s", payload: payload)
        case .event(let payload): return QueuedItem(position: position, entry: entry, topic: "d/\(device)/e", payload: payload)
        case nil: return QueuedItem(position: position, entry: entry, topic: nil, payload: [])
        }
    }

    private func deliverQueued(_ item: QueuedItem) {
        guard let topic = item.topic else {
            acknowledgedQueued(item)
            return
        }
        let message = MQTTMessage(topic: topic, payload: ByteBuffer(bytes: item.payload), qos: .atLeastOnce, retain: false)
        session.deliver(MQTTDelivery(message: message, qos: .atLeastOnce, onAcknowledged: { [self] in
            self.acknowledgedQueued(item)
        }))
    }

    private func acknowledgedQueued(_ item: QueuedItem) {
        pendAcknowledgement { $0.entries.append(item.entry) }
    }

    /// Adds to the acknowledgements to write, and schedules their write on
    /// the pump's loop unless one is scheduled: PUBACKs read in the same turn
    /// become one Redis request (one `ZREM` for the entries, one cursor move
    /// per conversation) and one batch of mirror frames.
    private func pendAcknowledgement(_ add: (inout PendingAcknowledgements) -> Void) {
        let schedule = state.withLock { state -> Bool in
            add(&state.acknowledgements)
            defer { state.acknowledgements.scheduled = true }
            return !state.acknowledgements.scheduled
        }
        if schedule { loop.execute { self.flushAcknowledgements() } }
    }

    private func flushAcknowledgements() {
        let batch = state.withLock { state -> PendingAcknowledgements in
            defer { state.acknowledgements = PendingAcknowledgements() }
            return state.acknowledgements
        }
        guard !batch.isEmpty else { return }
        let cursors = batch.cursors.sorted { $0.key < $1.key }
        store.acknowledge(device: device, cursors: cursors, entries: batch.entries, on: loop).whenComplete { result in
            if case .success = result {
                // Not written (the store is down): the device gets them again on its next
                // connection (at least once), and the standby hears nothing of them.
                self.delegate.pump(self, stored: cursors.map { .cursor(conversation: $0.key, seq: $0.value) } + batch.entries.map { .entry($0) })
            }
            // A queue entry frees its place in the window once its removal was tried.
            if !batch.entries.isEmpty {
                self.state.withLock { state in
                    for _ in batch.entries { state.machine.entryFinished() }
                }
            }
            self.wakeIfBehind()
        }
    }

    private func deliverMessage(_ item: MessageItem) {
        guard let stored = item.stored else {
            finished(item)
            return
        }
        // Compacted here, on the pump's loop, in the order the PUBLISHes go
        // out: a ref is defined before any delivery that uses it.
        let compacted = state.withLock { $0.compact }.flatMap { compact in
            compact.compact(ChatRouter.delivery(conversation: item.conversation, seq: item.seq, stored: stored), recipientUser: user)
                .map { (compact, $0) }
        }
        let payload: ByteBuffer
        if let compacted {
            payload = OfferedMessage.encode(compacted.1.delivery)
            if compacted.1.scheduleCheck { scheduleCompactCheck(compacted.0) }
        } else {
            payload = item.payload
                ?? OfferedMessage.encode(ChatRouter.delivery(conversation: item.conversation, seq: item.seq, stored: stored))
        }
        let message = MQTTMessage(topic: "d/\(device)/m", payload: payload, qos: .atLeastOnce, retain: false)
        session.deliver(MQTTDelivery(message: message, qos: .atLeastOnce, onAcknowledged: { [self] in
            compacted?.0.acknowledged()
            self.metrics.delivered(acceptedAtMilliseconds: stored.time)
            self.delegate.pump(self, delivered: stored, seq: item.seq, in: item.conversation)
            self.finished(item)
        }))
    }

    /// A message was acknowledged or skipped: move the cursor over the
    /// conversation's done prefix.
    private func finished(_ item: MessageItem) {
        let advance = state.withLock { $0.machine.messageFinished(conversation: item.conversation, seq: item.seq) }
        guard let advance else {
            wakeIfBehind()
            return
        }
        pendAcknowledgement { pending in
            pending.cursors[item.conversation] = max(pending.cursors[item.conversation] ?? 0, advance)
        }
    }
}
