import MQTT
import NIOCore
import Synchronization

/// A live or sleeping MQTT session, as routers see it: the address to
/// deliver messages to. While its client is connected, deliveries go to the
/// connection's event loop; while it is not, QoS 1 and 2 deliveries wait in
/// the session's queue until it resumes or expires.
///
/// One object per session, about 200 bytes: its lock (a `Mutex`) and its
/// delivery credit are stored inline, and a session is either attached or
/// stored, never both (`Slot.place`).
public final class MQTTSession: Sendable {
    /// The MQTT client identifier.
    public let clientIdentifier: String

    private let limits: Limits
    private let slot: Mutex<Slot>

    struct Limits: Sendable {
        var maximumQueuedMessages: Int
    }

    /// Where the session is: attached to a connection, or stored.
    struct Slot {
        var principal: MQTTPrincipal
        var place: Place
        var expiryTask: Scheduled<Void>?
        var will: PendingWill?

        /// The attached connection, if any.
        var link: ConnectionLink? {
            if case .attached(let link) = place { return link }
            return nil
        }

        var ended: Bool {
            if case .ended = place { return true }
            return false
        }
    }

    enum Place {
        /// A network connection holds the session state.
        case attached(ConnectionLink)
        /// No connection: the state waits here until one resumes it.
        case stored(SessionState)
        /// Receives nothing more.
        case ended
    }

    /// A will waiting for its delay (MQTT 5.0 §3.1.3.2.2).
    struct PendingWill {
        var message: MQTTMessage
        var task: Scheduled<Void>
    }

    init(clientIdentifier: String, principal: MQTTPrincipal, link: ConnectionLink, limits: Limits) {
        self.clientIdentifier = clientIdentifier
        self.limits = limits
        self.slot = Mutex(Slot(principal: principal, place: .attached(link)))
    }

    /// Who the session's latest connection authenticated as.
    public var principal: MQTTPrincipal {
        slot.withLock { $0.principal }
    }

    /// Whether a network connection is attached now.
    public var isConnected: Bool {
        slot.withLock { $0.link != nil }
    }

    /// Whether the session has ended; it receives nothing more.
    public var hasEnded: Bool {
        slot.withLock { $0.ended }
    }

    /// Sends a message to the session: now if connected (within the
    /// inflight window, else queued), queued if not (QoS 0 is then dropped).
    ///
    /// `publisher` is the session whose PUBLISH this delivery comes from, if
    /// any: a publisher that runs too far ahead of the event loops it
    /// delivers to is paused until they catch up.
    public func deliver(_ delivery: MQTTDelivery, from publisher: MQTTSession? = nil) {
        let (link, release): (ConnectionLink?, CreditTicket?) = slot.withLock { slot in
            switch slot.place {
            case .attached(let link):
                return (link, nil)
            case .stored(var state):
                // Out of the enum first, so the queue is not copied.
                slot.place = .ended
                // An offline queue holds no publisher back: softLimit 0.
                let release = state.enqueue(delivery, limit: limits.maximumQueuedMessages).release
                slot.place = .stored(state)
                return (nil, release)
            case .ended:
                return (nil, delivery.ticket)
            }
        }
        release?.release()
        guard let link else { return }
        var delivery = delivery
        if delivery.ticket == nil, let publisher {
            publisher.credit.acquire()
            delivery.ticket = CreditTicket(publisher: publisher)
        }
        if link.eventLoop.inEventLoop {
            link.handler.value.deliver(delivery)
        } else {
            let ready = delivery
            link.eventLoop.execute {
                link.handler.value.deliver(ready)
            }
        }
    }

    /// Deliveries this session's publishes have in flight to other event loops.
    let credit = DeliveryCredit()

    func resumeReading() {
        guard let link = currentLink else { return }
        link.eventLoop.execute {
            link.handler.value.resumeReading()
        }
    }

    /// Ends the session's connection from the server side with `reasonCode`
    /// (MQTT 5.0 DISCONNECT; a 3.1.1 client is just disconnected).
    /// `properties` may carry a Reason String or a Server Reference (0x9C/0x9D).
    public func disconnect(reasonCode: ReasonCode, properties: MQTTProperties = .init()) {
        guard let link = slot.withLock({ $0.link }) else { return }
        link.eventLoop.execute {
            link.handler.value.serverDisconnect(reasonCode, properties: properties)
        }
    }

    // MARK: - Registry side

    /// The attached connection, if any.
    var currentLink: ConnectionLink? {
        slot.withLock { $0.link }
    }

    enum AttachOutcome {
        /// Attached; the stored state (nil when there was none).
        case attached(SessionState?)
        /// Another connection holds it: take that one over first.
        case busy(ConnectionLink)
        /// The session ended meanwhile.
        case ended
    }

    /// Attaches a connection to a session that is not attached.
    func attach(_ link: ConnectionLink, principal: MQTTPrincipal) -> AttachOutcome {
        slot.withLock { slot in
            let state: SessionState
            switch slot.place {
            case .ended: return .ended
            case .attached(let current): return .busy(current)
            case .stored(let stored): state = stored
            }
            slot.expiryTask?.cancel()
            slot.expiryTask = nil
            slot.will?.task.cancel()
            slot.will = nil
            slot.place = .attached(link)
            slot.principal = principal
            return .attached(state)
        }
    }

    /// Detaches `link` and stores `state`. Returns false when `link` was not
    /// the attached connection (nothing changes then).
    func detach(_ link: ConnectionLink, state: SessionState) -> Bool {
        slot.withLock { slot in
            guard let current = slot.link, current.id == link.id else { return false }
            slot.place = .stored(state)
            return true
        }
    }

    /// Schedules the end of a detached session after `seconds`.
    func scheduleExpiry(after seconds: UInt32, on eventLoop: any EventLoop, _ end: @escaping @Sendable () -> Void) {
        let task = eventLoop.scheduleTask(in: .seconds(Int64(seconds)), end)
        slot.withLock { slot in
            if case .stored = slot.place {
                slot.expiryTask?.cancel()
                slot.expiryTask = task
            } else {
                task.cancel()
            }
        }
    }

    /// Holds a will until `seconds` pass (then `publish` runs) or the
    /// session resumes (then it is dropped).
    func scheduleWill(_ message: MQTTMessage, after seconds: UInt32, on eventLoop: any EventLoop, _ publish: @escaping @Sendable (MQTTMessage) -> Void) {
        let task = eventLoop.scheduleTask(in: .seconds(Int64(seconds))) { [self] in
            let due = slot.withLock { slot -> MQTTMessage? in
                let will = slot.will?.message
                slot.will = nil
                return will
            }
            if let due { publish(due) }
        }
        slot.withLock { slot in
            if case .stored = slot.place {
                slot.will?.task.cancel()
                slot.will = PendingWill(message: message, task: task)
            } else {
                task.cancel()
            }
        }
    }

    /// Marks the session ended. Returns a will still waiting for its delay,
    /// which is due now (MQTT 5.0 §3.1.3.2.2), or nil. Idempotent.
    func end() -> MQTTMessage? {
        slot.withLock { slot in
            guard !slot.ended else { return nil }
            slot.place = .ended
            slot.expiryTask?.cancel()
            slot.expiryTask = nil
            let will = slot.will
            will?.task.cancel()
            slot.will = nil
            return will?.message
        }
    }
}

/// A Sendable reference to a connection's handler, used only on its event loop.
struct ConnectionLink: Sendable {
    let id: ObjectIdentifier
    let handler: NIOLoopBound<MQTTConnectionHandler>

    /// The connection's event loop.
    var eventLoop: any EventLoop { handler.eventLoop }

    init(_ handler: MQTTConnectionHandler, eventLoop: any EventLoop) {
        self.id = ObjectIdentifier(handler)
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
    }

    /// Runs `body` on the connection's loop after the loop has polled its
    /// sockets once more: input that already reached this connection (say,
    /// the DISCONNECT its client sent before reconnecting elsewhere) is
    /// handled first. NIO runs every task that is due, including tasks queued
    /// by tasks, before it polls again; a task due a millisecond from now is
    /// not, so the loop polls (returning early on ready input) before it runs.
    func afterPendingInput(_ body: @escaping @Sendable (MQTTConnectionHandler) -> Void) {
        let handler = self.handler
        eventLoop.scheduleTask(in: .milliseconds(1)) { body(handler.value) }
    }
}
