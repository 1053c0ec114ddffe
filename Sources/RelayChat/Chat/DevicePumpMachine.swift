/// The decisions of a ``DevicePump``, as a value: events in (a wake-up, a
/// read's result, an offer of what this node just stored, an
/// acknowledgement, a rewind), what to do out. No I/O, no locks, no time:
/// ``DevicePump`` holds one under its lock and performs what it says, as
/// the engine's `ConnectionStateMachine` is driven by its handler.
///
/// What it keeps: the window of deliveries in flight, per conversation the
/// seqs handed over and whether each is acknowledged (the cursor moves only
/// over an acknowledged prefix), the highest seq handed over, the cursors as
/// the last read found them, and the queue position of the last status or
/// event handed over.
struct DevicePumpMachine: Sendable {
    /// A read of the store to start: the queue past `queuePosition`, and
    /// the conversations past what was handed over, `room` items at most.
    struct Read: Sendable, Equatable {
        var queuePosition: Int
        var handed: [String: UInt64]
        var room: Int
    }

    /// What a read brought, as far as the machine needs to know.
    struct ReadResult: Sendable, Equatable {
        /// Queue positions of the statuses and events read, in order.
        var queuePositions: [Int] = []
        /// The queue's counter, when the read saw every entry past the position asked.
        var queueCounter: Int?
        /// The device's cursors.
        var cursors: [String: UInt64] = [:]
        /// The messages read, in the order they go out.
        var messages: [(conversation: String, seq: UInt64)] = []

        static func == (a: ReadResult, b: ReadResult) -> Bool {
            a.queuePositions == b.queuePositions && a.queueCounter == b.queueCounter && a.cursors == b.cursors
                && a.messages.map(\.conversation) == b.messages.map(\.conversation) && a.messages.map(\.seq) == b.messages.map(\.seq)
        }
    }

    /// What to do with something offered.
    enum Offer: Sendable, Equatable {
        /// Hand it over now (it is counted in flight).
        case deliver
        /// Read the store: the pump does not know enough to take it.
        case read
        /// Nothing: it was handed over already, is the device's own, or waits for room or a read.
        case none
    }

    let window: Int
    private(set) var stopped = false
    /// Queue position of the last status or event handed over.
    private(set) var queuePosition = 0
    /// Whether `queuePosition` is the queue's counter (a read saw the whole queue past it).
    private(set) var queueKnown = false
    /// Deliveries handed over and not yet acknowledged (or skipped).
    private(set) var inflight = 0
    private var pending: [String: [(seq: UInt64, done: Bool)]] = [:]
    private var handed: [String: UInt64] = [:]
    private var acknowledged: [String: UInt64] = [:]
    private var fetching = false
    private var wakeAgain = false
    /// A wake-up or an offer found the window full: read when it has room.
    private var behind = false
    /// Enqueues by this node for the device whose offers have not arrived
    /// yet: the queue's Pub/Sub notice of such an entry can come first, and
    /// reading the store for it would fetch what the offer brings anyway.
    private var incoming = 0
    /// The highest queue position a notice named while `incoming` > 0.
    private var noticedWhileIncoming: Int?

    /// A machine allowing `window` deliveries in flight.
    init(window: Int) {
        self.window = max(1, window)
    }

    /// The seq after which the device next needs `conversation`, if known.
    func next(in conversation: String) -> UInt64? {
        switch (handed[conversation], acknowledged[conversation]) {
        case (nil, nil): return nil
        case let (h, a): return max(h ?? 0, a ?? 0)
        }
    }

    // MARK: - Events

    /// The pump's connection ended: nothing more is read or handed over.
    mutating func stop() {
        stopped = true
    }

    /// Something may wait: the read to start, or nil (stopped, a read in
    /// progress, which reads again after, or the window full).
    mutating func wake() -> Read? {
        guard !stopped else { return nil }
        if fetching {
            wakeAgain = true
            return nil
        }
        let room = window - inflight
        guard room > 0 else {
            behind = true
            return nil
        }
        fetching = true
        wakeAgain = false
        behind = false
        return Read(queuePosition: queuePosition, handed: handed, room: room)
    }

    /// A read started by ``wake()`` came back with `result` for `read`: it
    /// is all in flight now. Returns whether to read again (a wake-up came
    /// meanwhile, or the read filled its room).
    mutating func readCompleted(_ read: Read, _ result: ReadResult) -> Bool {
        fetching = false
        if let last = result.queuePositions.last { queuePosition = max(queuePosition, last) }
        if let counter = result.queueCounter {
            queuePosition = max(queuePosition, counter)
            queueKnown = true
        }
        acknowledged = result.cursors
        for item in result.messages {
            pending[item.conversation, default: []].append((item.seq, false))
            handed[item.conversation] = max(handed[item.conversation] ?? 0, item.seq)
        }
        let count = result.queuePositions.count + result.messages.count
        inflight += count
        return wakeAgain || count == read.room
    }

    /// A read failed: the pump tries again later.
    mutating func readFailed() {
        fetching = false
    }

    /// The device's channel said `conversation` has messages up to `seq`:
    /// whether to read (not when they were handed over or acknowledged).
    func needsRead(conversation: String, upTo seq: UInt64) -> Bool {
        (next(in: conversation) ?? 0) < seq
    }

    /// The device's channel said its queue has entries up to `position`:
    /// whether to read (not when they were handed over, nor while this
    /// node's own enqueues are on their way as offers: their arrival
    /// decides).
    mutating func queueNoticed(upTo position: Int) -> Bool {
        guard !(queueKnown && queuePosition >= position) else { return false }
        guard incoming == 0 else {
            noticedWhileIncoming = max(noticedWhileIncoming ?? 0, position)
            return false
        }
        return true
    }

    /// This node is about to put entries on the device's queue; their offers
    /// (or ``enqueueEnded()`` if the write fails) follow.
    mutating func enqueueStarted() {
        incoming += 1
    }

    /// An enqueue announced by ``enqueueStarted()`` ended and its offers were
    /// taken: whether to read, because a notice named a position that no
    /// offer brought.
    mutating func enqueueEnded() -> Bool {
        incoming = max(0, incoming - 1)
        guard incoming == 0, let noticed = noticedWhileIncoming else { return false }
        noticedWhileIncoming = nil
        return !(queueKnown && queuePosition >= noticed)
    }

    /// This node just stored message `seq` of `conversation` for the device
    /// (`own`: the device sent it): hand it over when it is exactly the next
    /// one the device needs and the window has room; the device's own is
    /// stepped over; anything else falls back to a read (decision 0008).
    mutating func offered(conversation: String, seq: UInt64, own: Bool) -> Offer {
        guard !stopped, !fetching else {
            // A read in progress may have missed it: read again after.
            if fetching && !own { wakeAgain = true }
            return .none
        }
        guard let next = next(in: conversation) else { return own ? .none : .read }
        guard seq > next else { return .none }
        guard seq == next + 1 else { return own ? .none : .read }
        if own {
            handed[conversation] = seq
            return .none
        }
        guard inflight < window else {
            behind = true
            return .none
        }
        handed[conversation] = seq
        pending[conversation, default: []].append((seq, false))
        inflight += 1
        return .deliver
    }

    /// This node just put a status or event on the device's queue at `position`.
    mutating func offered(queuePosition position: Int) -> Offer {
        guard !stopped, position > queuePosition || !queueKnown else { return .none }
        if fetching {
            wakeAgain = true
            return .none
        }
        guard queueKnown, position == queuePosition + 1 else { return .read }
        guard inflight < window else {
            behind = true
            return .none
        }
        queuePosition = position
        inflight += 1
        return .deliver
    }

    /// `conversation` continues under a new epoch from `seq`, the device's
    /// cursor moved back before it: what was handed over or seen
    /// acknowledged from there on is forgotten. The pump reads again.
    mutating func rewind(_ conversation: String, to seq: UInt64) {
        let floor = seq > 0 ? seq - 1 : 0
        if let h = handed[conversation], h > floor { handed[conversation] = floor }
        if let a = acknowledged[conversation], a > floor { acknowledged[conversation] = floor }
        pending[conversation]?.removeAll { $0.seq > floor }
        if pending[conversation]?.isEmpty == true { pending[conversation] = nil }
    }

    /// Message `seq` of `conversation` was acknowledged by the device (or
    /// skipped): the seq the cursor moves to, when the acknowledged prefix
    /// grew, else nil.
    mutating func messageFinished(conversation: String, seq: UInt64) -> UInt64? {
        inflight -= 1
        guard var list = pending[conversation] else { return nil }
        if let i = list.firstIndex(where: { $0.seq == seq && !$0.done }) { list[i].done = true }
        var upTo: UInt64?
        while let first = list.first, first.done {
            upTo = first.seq
            list.removeFirst()
        }
        pending[conversation] = list.isEmpty ? nil : list
        return upTo
    }

    /// A status or event was acknowledged and removed from the store.
    mutating func entryFinished() {
        inflight -= 1
    }

    /// Room was freed: whether a wake-up or an offer found the window full
    /// meanwhile (then the pump reads).
    mutating func takeBehind() -> Bool {
        defer { behind = false }
        return behind
    }
}
