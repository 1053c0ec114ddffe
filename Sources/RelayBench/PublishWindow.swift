/// How far one publisher may run ahead (pure bookkeeping, no I/O).
///
/// At QoS 1 a slot is taken by each PUBLISH and released by its PUBACK, so at
/// most `limit` PUBLISHes are unacknowledged. At QoS 0 nothing is
/// acknowledged, so a slot is released when the pair's subscriber receives a
/// message: at most `limit` messages are published but not yet delivered,
/// which keeps the publisher from filling the broker's queues.
struct PublishWindow {
    let qos1: Bool
    private(set) var limit: Int
    /// PUBLISHes written and not yet released.
    private(set) var inFlight = 0
    private var nextPacketIdentifier: UInt16 = 1
    /// One flag per packet identifier, set while that identifier awaits its PUBACK.
    private var outstanding: [Bool]
    /// PUBACKs for identifiers that were not outstanding.
    private(set) var unexpectedAcks = 0
    /// PUBACKs that released a slot, ever.
    private(set) var acknowledgedCount: UInt64 = 0

    init(limit: Int, qos1: Bool) {
        precondition(limit >= 1)
        self.limit = limit
        self.qos1 = qos1
        self.outstanding = qos1 ? Array(repeating: false, count: 65_536) : []
    }

    var isOpen: Bool { inFlight < limit }

    /// Free slots worth a write: refilling one slot at a time would cost a
    /// write syscall per message, so the publisher waits until a quarter of
    /// the window is free (silly-window avoidance, as in TCP). The window
    /// itself is never exceeded.
    var refillThreshold: Int { max(1, limit / 4) }

    /// Enough slots are free to be worth a write.
    var isWorthRefilling: Bool { limit - inFlight >= refillThreshold }

    /// Lowers the limit, e.g. to the server's Receive Maximum (MQTT 5.0 §3.2.2.3.3).
    mutating func clamp(to maximum: Int) {
        limit = max(1, min(limit, maximum))
    }

    /// Takes a slot. Returns the packet identifier to use at QoS 1, nil at QoS 0.
    mutating func take() -> UInt16? {
        precondition(isOpen)
        inFlight += 1
        guard qos1 else { return nil }
        // Identifiers are handed out in order and at most `limit` (< 65,535)
        // are outstanding, so the next one is free unless a PUBACK was lost.
        var id = nextPacketIdentifier
        while outstanding[Int(id)] {
            id = id == UInt16.max ? 1 : id + 1
        }
        outstanding[Int(id)] = true
        nextPacketIdentifier = id == UInt16.max ? 1 : id + 1
        return id
    }

    /// A PUBACK arrived (QoS 1). Returns false when the identifier was not outstanding.
    @discardableResult
    mutating func acknowledged(_ id: UInt16) -> Bool {
        guard qos1, id != 0, outstanding[Int(id)] else {
            unexpectedAcks += 1
            return false
        }
        outstanding[Int(id)] = false
        inFlight -= 1
        acknowledgedCount += 1
        return true
    }

    /// At QoS 0, gives up on messages still undelivered (a new phase starts
    /// after the last one drained: whatever is missing by then is lost and
    /// must not keep holding slots). Nothing changes at QoS 1, where a slot
    /// is held until its PUBACK.
    mutating func forgetUndelivered() {
        if !qos1 { inFlight = 0 }
    }

    /// The subscriber received a message (QoS 0 credit).
    mutating func delivered() {
        guard !qos1, inFlight > 0 else { return }
        inFlight -= 1
    }
}
