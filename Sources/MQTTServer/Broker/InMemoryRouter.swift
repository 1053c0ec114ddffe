import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// The generic broker: standard MQTT publish/subscribe held in memory.
/// Topic-filter subscriptions with `+` and `#`, `$share/` groups, retained
/// messages, No Local, Retain As Published, Retain Handling and
/// subscription identifiers (MQTT 5.0 §3.3.4, §3.8.4, §4.7, §4.8).
public final class InMemoryRouter: MQTTRouter {
    /// A session's subscription to one filter.
    struct Subscriber {
        let session: MQTTSession
        var options: SubscriptionOptions
        var identifier: UInt32?
    }

    /// What the topic tree holds for one key.
    enum Entry {
        case direct(Subscriber)
        /// A `$share` group; the members live in `State.groups`.
        case shared(groupKey: String)
    }

    enum Key: Hashable {
        case session(ObjectIdentifier)
        case group(String)
    }

    struct State {
        var tree = TopicTree<Key, Entry>()
        var groups: [String: SharedGroup<ObjectIdentifier, Subscriber>] = [:]
        var retained = RetainedMessageStore<MQTTMessage>()
        /// Every filter (as subscribed, `$share/...` included) per session, to clean up.
        var filtersBySession: [ObjectIdentifier: SessionFilters] = [:]
    }

    /// The filters of one session. Most sessions have one, held as is: a
    /// one-element `Set` would be a ~100-byte allocation per session.
    enum SessionFilters {
        case one(String)
        case many(Set<String>)

        var all: [String] {
            switch self {
            case .one(let filter): return [filter]
            case .many(let filters): return Array(filters)
            }
        }

        mutating func insert(_ filter: String) {
            switch self {
            case .one(let existing):
                if existing != filter { self = .many([existing, filter]) }
            case .many(var filters):
                self = .one("")  // Drop the enum's reference, so the set is not copied.
                filters.insert(filter)
                self = .many(filters)
            }
        }

        /// Removes `filter`; false when none is left.
        mutating func remove(_ filter: String) -> Bool {
            switch self {
            case .one(let existing):
                return existing != filter
            case .many(var filters):
                self = .one("")
                filters.remove(filter)
                self = .many(filters)
                return !filters.isEmpty
            }
        }
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Number of retained messages held.
    public var retainedCount: Int { state.withLockedValue { $0.retained.count } }

    // MARK: - MQTTRouter

    public func publish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<ReasonCode> {
        if message.topic.hasPrefix("$SYS") {
            // Clients do not write the server's own topics (MQTT 5.0 §4.7.2).
            return .completed(.notAuthorized)
        }
        let publisher = ObjectIdentifier(session)
        let stored = message.retain && message.payload.readableBytes > 0 ? message.compacted() : nil
        var targets: [(MQTTSession, MQTTDelivery)] = []
        state.withLockedValue { state in
            if message.retain {
                // A retained message replaces the last one; an empty one deletes it (§3.3.1.3).
                if let stored {
                    state.retained.set(topic: message.topic, message: stored)
                } else {
                    _ = state.retained.remove(topic: message.topic)
                }
            }
            var groupKeys: [String] = []
            var index: [ObjectIdentifier: Int] = [:]
            state.tree.forEachMatch(topic: message.topic) { _, entry in
                switch entry {
                case .direct(let subscriber):
                    if subscriber.options.noLocal && ObjectIdentifier(subscriber.session) == publisher { return }
                    Self.merge(subscriber, message: message, into: &targets, index: &index)
                case .shared(let groupKey):
                    groupKeys.append(groupKey)
                }
            }
            for groupKey in groupKeys {
                if let subscriber = state.groups[groupKey]?.nextConnected() {
                    targets.append((subscriber.session, Self.delivery(of: message, to: subscriber)))
                }
            }
        }
        for (target, delivery) in targets {
            target.deliver(delivery, from: session)
        }
        return .completed(targets.isEmpty ? .noMatchingSubscribers : .success)
    }

    public func subscribe(_ request: MQTTSubscribeRequest, from session: MQTTSession) -> MQTTSubscribeResult {
        let id = ObjectIdentifier(session)
        var codes: [ReasonCode] = []
        var retained: [MQTTDelivery] = []
        state.withLockedValue { state in
            for subscription in request.subscriptions {
                let subscriber = Subscriber(session: session, options: subscription.options, identifier: request.subscriptionIdentifier)
                if state.filtersBySession[id] == nil {
                    state.filtersBySession[id] = .one(subscription.topicFilter)
                } else {
                    state.filtersBySession[id]!.insert(subscription.topicFilter)
                }
                codes.append(ReasonCode(rawValue: subscription.options.qos.rawValue))
                if let shared = MQTTTopic.sharedSubscription(subscription.topicFilter) {
                    // Retained messages are not sent to shared subscriptions (§4.8.2).
                    let groupKey = subscription.topicFilter
                    state.groups[groupKey, default: SharedGroup()].insert(key: id, value: subscriber)
                    _ = state.tree.insert(filter: shared.filter, key: .group(groupKey), value: .shared(groupKey: groupKey))
                    continue
                }
                let isNew = state.tree.insert(filter: subscription.topicFilter, key: .session(id), value: .direct(subscriber))
                let handling = subscription.options.retainHandling
                guard handling == .sendOnSubscribe || (handling == .sendOnNewSubscribe && isNew) else { continue }
                state.retained.forEachMatch(filter: subscription.topicFilter) { _, message in
                    retained.append(MQTTDelivery(
                        message: message,
                        qos: min(message.qos, subscription.options.qos),
                        retain: true,
                        subscriptionIdentifiers: request.subscriptionIdentifier.map { [$0] } ?? []
                    ))
                }
            }
        }
        return MQTTSubscribeResult(reasonCodes: codes, retained: retained)
    }

    public func unsubscribe(_ topicFilters: [String], from session: MQTTSession) -> [ReasonCode] {
        let id = ObjectIdentifier(session)
        return state.withLockedValue { state in
            topicFilters.map { filter in
                let removed = Self.remove(filter, session: id, from: &state)
                if state.filtersBySession[id]?.remove(filter) == false {
                    state.filtersBySession[id] = nil
                }
                return removed ? .success : .noSubscriptionExisted
            }
        }
    }

    public func sessionEnded(_ session: MQTTSession) {
        let id = ObjectIdentifier(session)
        state.withLockedValue { state in
            guard let filters = state.filtersBySession.removeValue(forKey: id) else { return }
            for filter in filters.all {
                _ = Self.remove(filter, session: id, from: &state)
            }
        }
    }

    // MARK: - Helpers

    private static func remove(_ filter: String, session id: ObjectIdentifier, from state: inout State) -> Bool {
        guard let shared = MQTTTopic.sharedSubscription(filter) else {
            return state.tree.remove(filter: filter, key: .session(id)) != nil
        }
        guard state.groups[filter]?.remove(key: id) != nil else { return false }
        if state.groups[filter]?.isEmpty == true {
            state.groups[filter] = nil
            _ = state.tree.remove(filter: shared.filter, key: .group(filter))
        }
        return true
    }

    private static func delivery(of message: MQTTMessage, to subscriber: Subscriber) -> MQTTDelivery {
        MQTTDelivery(
            message: message,
            qos: min(message.qos, subscriber.options.qos),
            retain: subscriber.options.retainAsPublished && message.retain,
            subscriptionIdentifiers: subscriber.identifier.map { [$0] } ?? []
        )
    }

    /// Adds a delivery for `subscriber`, or, when its session already gets
    /// this message through an overlapping subscription, raises that one's
    /// QoS and adds the identifier (one copy per session, MQTT 5.0 §3.3.4).
    private static func merge(
        _ subscriber: Subscriber,
        message: MQTTMessage,
        into targets: inout [(MQTTSession, MQTTDelivery)],
        index: inout [ObjectIdentifier: Int]
    ) {
        let delivery = delivery(of: message, to: subscriber)
        let id = ObjectIdentifier(subscriber.session)
        // Small fan-outs scan; large ones switch to an index.
        let existing: Int?
        if targets.count <= 8 {
            existing = targets.firstIndex { $0.0 === subscriber.session }
        } else {
            if index.isEmpty {
                for (i, target) in targets.enumerated() { index[ObjectIdentifier(target.0)] = i }
            }
            existing = index[id]
        }
        guard let i = existing else {
            if !index.isEmpty { index[id] = targets.count }
            targets.append((subscriber.session, delivery))
            return
        }
        targets[i].1.qos = max(targets[i].1.qos, delivery.qos)
        targets[i].1.retain = targets[i].1.retain || delivery.retain
        targets[i].1.subscriptionIdentifiers.append(contentsOf: delivery.subscriptionIdentifiers)
    }
}

extension SharedGroup where Key == ObjectIdentifier, Value == InMemoryRouter.Subscriber {
    /// The next member in turn, preferring connected sessions.
    mutating func nextConnected() -> Value? {
        let total = count
        var first: Value?
        for _ in 0..<max(total, 1) {
            guard let (_, member) = next() else { return nil }
            if first == nil { first = member }
            if member.session.isConnected { return member }
        }
        return first
    }
}
