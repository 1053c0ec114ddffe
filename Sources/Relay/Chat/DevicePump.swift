import Foundation
import Logging
import MQTT
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// Moves one connected device's durable queue to its MQTT session: keeps up
/// to `window` QoS 1 deliveries in flight, in queue order; the device's
/// PUBACK removes the entry from the queue (and tells the sender
/// "delivered"). Woken when the device connects, when its node hears the
/// device's channel, and on every acknowledgement. A new connection starts a
/// new pump from the head of the queue, so anything unacknowledged is sent
/// again: delivery is at least once, and devices drop duplicates by
/// (conversation, seq).
final class DevicePump: Sendable {
    let device: String
    let user: String
    let session: MQTTSession
    private let store: ChatStore
    private let loop: any EventLoop
    private let window: Int
    private let logger: Logger
    private let onDelivered: @Sendable (_ conversation: String, _ message: ChatStore.StoredMessage, _ seq: UInt64) -> Void
    private let state = NIOLockedValueBox(State())

    struct State {
        /// Queue position of the last entry handed to the session.
        var position = 0
        var inflight = 0
        var fetching = false
        var wakeAgain = false
        var stopped = false
    }

    init(
        device: String,
        user: String,
        session: MQTTSession,
        store: ChatStore,
        loop: any EventLoop,
        window: Int,
        logger: Logger,
        onDelivered: @escaping @Sendable (String, ChatStore.StoredMessage, UInt64) -> Void
    ) {
        self.device = device
        self.user = user
        self.session = session
        self.store = store
        self.loop = loop
        self.window = window
        self.logger = logger
        self.onDelivered = onDelivered
    }

    func stop() {
        state.withLockedValue { $0.stopped = true }
    }

    /// Reads more of the queue if the window has room.
    func wake() {
        let plan: (after: Int, room: Int)? = state.withLockedValue { s in
            guard !s.stopped else { return nil }
            if s.fetching {
                s.wakeAgain = true
                return nil
            }
            let room = window - s.inflight
            guard room > 0 else { return nil }
            s.fetching = true
            s.wakeAgain = false
            return (s.position, room)
        }
        guard let plan else { return }
        store.queue(device: device, after: plan.after, limit: plan.room, on: loop)
            .flatMap { entries in self.load(entries) }
            .whenComplete { result in
                switch result {
                case .success(let items):
                    let again = self.state.withLockedValue { s -> Bool in
                        s.fetching = false
                        if let last = items.last { s.position = max(s.position, last.position) }
                        s.inflight += items.count
                        return s.wakeAgain || items.count == plan.room
                    }
                    for item in items { self.deliver(item) }
                    if again { self.wake() }
                case .failure(let error):
                    self.logger.warning("device queue read failed", metadata: ["device": "\(self.device)", "error": "\(error)"])
                    self.state.withLockedValue { $0.fetching = false }
                    self.loop.scheduleTask(in: .seconds(1)) { self.wake() }
                }
            }
    }

    /// An entry ready to go: its topic and payload, or nothing (an expired
    /// message, which is just removed).
    struct Item: Sendable {
        var position: Int
        var entry: [UInt8]
        var topic: String?
        var payload: [UInt8]
        var delivered: (conversation: String, message: ChatStore.StoredMessage, seq: UInt64)?
    }

    private func load(_ entries: [(position: Int, entry: [UInt8])]) -> EventLoopFuture<[Item]> {
        var refs: [(conversation: String, seq: UInt64)] = []
        for (_, bytes) in entries {
            if case .message(let conversation, let seq) = QueueEntry(bytes: bytes) { refs.append((conversation, seq)) }
        }
        return store.messages(refs, for: device, on: loop).map { messages in
            var next = messages.makeIterator()
            return entries.map { position, bytes -> Item in
                switch QueueEntry(bytes: bytes) {
                case .message(let conversation, let seq):
                    guard let stored = next.next() ?? nil else {
                        return Item(position: position, entry: bytes, topic: nil, payload: [])
                    }
                    let delivery = ChatRouter.delivery(conversation: conversation, seq: seq, stored: stored)
                    let payload = (try? delivery.serializedBytes() as [UInt8]) ?? []
                    return Item(position: position, entry: bytes, topic: "d/\(self.device)/m", payload: payload, delivered: (conversation, stored, seq))
                case .status(let payload):
                    return Item(position: position, entry: bytes, topic: "d/\(self.device)/s", payload: payload)
                case .event(let payload):
                    return Item(position: position, entry: bytes, topic: "d/\(self.device)/e", payload: payload)
                case nil:
                    return Item(position: position, entry: bytes, topic: nil, payload: [])
                }
            }
        }
    }

    private func deliver(_ item: Item) {
        guard let topic = item.topic else {
            acknowledged(item)
            return
        }
        let message = MQTTMessage(topic: topic, payload: ByteBuffer(bytes: item.payload), qos: .atLeastOnce, retain: false)
        session.deliver(MQTTDelivery(message: message, qos: .atLeastOnce, onAcknowledged: { [self] in
            self.acknowledged(item)
        }))
    }

    private func acknowledged(_ item: Item) {
        if let delivered = item.delivered {
            onDelivered(delivered.conversation, delivered.message, delivered.seq)
        }
        store.acknowledge(device: device, entry: item.entry, on: loop).whenComplete { _ in
            self.state.withLockedValue { $0.inflight -= 1 }
            self.wake()
        }
    }
}
