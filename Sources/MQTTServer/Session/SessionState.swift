import DequeModule
import MQTT
import NIOCore

/// The part of an MQTT session that outlives its network connection
/// (MQTT 5.0 §4.1): messages in flight to the client, messages queued for
/// it, and QoS 2 messages received from it whose PUBREL has not come yet.
/// Subscriptions belong to the router.
struct SessionState: Sendable {
    /// A QoS 1 or 2 PUBLISH sent to the client and not yet completed.
    struct Outbound: Sendable {
        var delivery: MQTTDelivery
        /// QoS 2: PUBREC came and PUBREL went; waiting for PUBCOMP.
        var released: Bool
        /// Send order, to resend in the original order on resume (MQTT 5.0 §4.4).
        var order: UInt64
    }

    private(set) var outbound: [UInt16: Outbound] = [:]
    private var nextOrder: UInt64 = 0
    private var nextPacketIdentifier: UInt16 = 1
    /// Deliveries waiting for room in the inflight window, oldest first.
    /// A `Deque`: an idle session's empty queue holds no storage.
    private(set) var queue = Deque<MQTTDelivery>()
    /// Packet identifiers of QoS 2 PUBLISHes received and PUBREC'd, awaiting PUBREL.
    var incomingQoS2: Set<UInt16> = []
    /// QoS 1 and 2 deliveries dropped because the queue was full.
    private(set) var droppedMessages = 0

    init() {}

    var inflightCount: Int { outbound.count }

    /// Queues a delivery that cannot go out now. QoS 0 is not queued (MQTT
    /// 5.0 §4.1 lets a server drop it); past `limit` the delivery is dropped
    /// and counted. Returns whether it was queued.
    /// A delivery keeps its credit ticket while queued only below
    /// `softLimit` (see `DeliveryCredit`); past it the ticket is handed back
    /// in the result for the caller to release.
    @discardableResult
    mutating func enqueue(_ delivery: MQTTDelivery, limit: Int, softLimit: Int = 0) -> (queued: Bool, release: CreditTicket?) {
        guard delivery.qos != .atMostOnce else { return (false, delivery.ticket) }
        guard queue.count < limit else {
            droppedMessages += 1
            return (false, delivery.ticket)
        }
        var delivery = delivery
        delivery.message = delivery.message.compacted()
        var release: CreditTicket?
        if queue.count >= softLimit {
            release = delivery.ticket
            delivery.ticket = nil
        }
        queue.append(delivery)
        return (true, release)
    }

    /// Takes the credit tickets of every queued delivery (when the session
    /// leaves its connection: an offline queue holds no publisher back).
    mutating func takeTickets() -> [CreditTicket] {
        var tickets: [CreditTicket] = []
        for i in queue.indices where queue[i].ticket != nil {
            tickets.append(queue[i].ticket!)
            queue[i].ticket = nil
        }
        return tickets
    }

    mutating func dequeue() -> MQTTDelivery? {
        queue.popFirst()
    }

    /// Records a delivery as in flight under a fresh packet identifier.
    /// The caller keeps the window below 65,535 so one is always free.
    mutating func startOutbound(_ delivery: MQTTDelivery) -> UInt16 {
        var id = nextPacketIdentifier
        while outbound[id] != nil {
            id = id == MQTTLimits.maximumPacketIdentifier ? 1 : id + 1
        }
        nextPacketIdentifier = id == MQTTLimits.maximumPacketIdentifier ? 1 : id + 1
        outbound[id] = Outbound(delivery: delivery, released: false, order: nextOrder)
        nextOrder += 1
        return id
    }

    /// Finishes an outbound message (PUBACK, PUBCOMP, or a failed PUBREC).
    @discardableResult
    mutating func completeOutbound(_ id: UInt16) -> Outbound? {
        outbound.removeValue(forKey: id)
    }

    /// Marks a QoS 2 message as released (PUBREC received, PUBREL sent).
    /// Returns false when the identifier is not in flight.
    mutating func releaseOutbound(_ id: UInt16) -> Bool {
        guard outbound[id] != nil else { return false }
        outbound[id]!.released = true
        return true
    }

    /// Messages in flight in the order they were first sent.
    var outboundInOrder: [(UInt16, Outbound)] {
        outbound.sorted { $0.value.order < $1.value.order }.map { ($0.key, $0.value) }
    }
}
