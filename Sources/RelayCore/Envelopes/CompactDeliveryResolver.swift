/// A client's side of compact deliveries (docs/protocol.md, "Compact
/// deliveries"): the refs its MQTT session has been told, and the rule that
/// turns a compact `Delivery` back into the full one. Deliveries must be
/// resolved in the order they arrived on the connection.
///
/// A full delivery (`conversation_ref` 0) passes unchanged. A compact one
/// first starts a new table when it carries `refs_generation`, then defines
/// the refs it carries with their values, or looks up those it carries
/// alone. Every value taken from the wire is validated (conversation, user
/// and device ids, refs within ``maximumRef``) before the table keeps it; a
/// delivery that names a ref the table does not hold, or defines one with a
/// malformed value, is `unresolved`, and the table is left as it was
/// (except for a new generation, which the delivery announced either way).
///
/// Pure value type: no I/O.
public struct CompactDeliveryResolver: Sendable {
    /// The highest ref taken in (the relay assigns at most
    /// ``CompactDeliveryTable/maximumRefs``; a later relay may raise that).
    public static let maximumRef: UInt32 = 1024

    /// A compact delivery the table cannot resolve.
    public struct Unresolved: Sendable, Equatable {
        /// The generation the delivery belongs to (0: none was announced).
        public var generation: UInt32
        public var conversationRef: UInt32
        public var senderRef: UInt32
        public var seq: UInt64
        /// Why it could not be resolved.
        public var reason: String
    }

    /// What ``resolve(_:)`` made of a delivery.
    public enum Resolution: Sendable, Equatable {
        /// The full delivery (compact fields cleared).
        case resolved(Relay_V1_Delivery)
        /// A ref it names is not known (or a value it defines is malformed).
        case unresolved(Unresolved)
    }

    private struct Conversation: Sendable {
        var id: ConversationID
        var epoch: UInt32
    }

    private struct Sender: Sendable {
        var user: UserID
        var device: DeviceID
    }

    /// The generation of the current table (0 before the first compact delivery).
    public private(set) var generation: UInt32 = 0
    private var conversations: [UInt32: Conversation] = [:]
    private var senders: [UInt32: Sender] = [:]

    /// An empty table.
    public init() {}

    /// How many refs the table holds (conversations, senders).
    public var count: (conversations: Int, senders: Int) { (conversations.count, senders.count) }

    /// Forgets every ref: the MQTT session is new (CONNACK Session Present 0).
    public mutating func clear() {
        generation = 0
        conversations = [:]
        senders = [:]
    }

    /// Resolves `delivery` and takes in the refs it defines.
    public mutating func resolve(_ delivery: Relay_V1_Delivery) -> Resolution {
        guard delivery.conversationRef != 0 else { return .resolved(delivery) }
        if delivery.refsGeneration != 0 {
            clear()
            generation = delivery.refsGeneration
        }
        func unresolved(_ reason: String) -> Resolution {
            .unresolved(Unresolved(generation: generation, conversationRef: delivery.conversationRef,
                                   senderRef: delivery.senderRef, seq: delivery.seq, reason: reason))
        }
        guard delivery.conversationRef <= Self.maximumRef, delivery.senderRef <= Self.maximumRef else {
            return unresolved("a ref past \(Self.maximumRef)")
        }
        // The conversation: defined here, or looked up.
        var conversation: Conversation
        if delivery.conversation.isEmpty {
            guard let known = conversations[delivery.conversationRef] else {
                return unresolved("conversation ref \(delivery.conversationRef) is not known")
            }
            conversation = known
            if delivery.epoch != 0 { conversation.epoch = delivery.epoch }
        } else {
            guard let id = ConversationID(rawValue: delivery.conversation) else {
                return unresolved("conversation \(String(reflecting: delivery.conversation)) is not a conversation id")
            }
            conversation = Conversation(id: id, epoch: delivery.epoch)
        }
        // The sender (none for a delivery without one).
        var sender: Sender?
        if delivery.senderRef != 0 {
            if delivery.fromUser.isEmpty && delivery.fromDevice.isEmpty {
                guard let known = senders[delivery.senderRef] else {
                    return unresolved("sender ref \(delivery.senderRef) is not known")
                }
                sender = known
            } else {
                guard let user = UserID(rawValue: delivery.fromUser), let device = DeviceID(rawValue: delivery.fromDevice) else {
                    return unresolved("sender \(String(reflecting: delivery.fromUser))/\(String(reflecting: delivery.fromDevice)) is not a user and device id")
                }
                sender = Sender(user: user, device: device)
            }
        }
        conversations[delivery.conversationRef] = conversation
        if let sender { senders[delivery.senderRef] = sender }

        var full = delivery
        full.conversation = conversation.id.rawValue
        full.epoch = conversation.epoch
        if let sender {
            full.fromUser = sender.user.rawValue
            full.fromDevice = sender.device.rawValue
        }
        full.conversationRef = 0
        full.senderRef = 0
        full.refsGeneration = 0
        return .resolved(full)
    }

    /// Takes in the refs of the relay's table (`q/deliveries.compact`'s
    /// answer) when it is of the current generation: refs this table lost
    /// resolve again. Malformed entries are skipped. Returns whether it did.
    @discardableResult
    public mutating func learn(_ refs: Relay_V1_CompactRefs) -> Bool {
        guard generation != 0, refs.generation == generation else { return false }
        for (i, raw) in refs.conversations.enumerated() where UInt32(i) < Self.maximumRef {
            let ref = UInt32(i + 1)
            guard conversations[ref] == nil, let id = ConversationID(rawValue: raw) else { continue }
            conversations[ref] = Conversation(id: id, epoch: i < refs.epochs.count ? refs.epochs[i] : 0)
        }
        for (i, sender) in refs.senders.enumerated() where UInt32(i) < Self.maximumRef {
            let ref = UInt32(i + 1)
            guard senders[ref] == nil, let user = UserID(rawValue: sender.user), let device = DeviceID(rawValue: sender.device) else { continue }
            senders[ref] = Sender(user: user, device: device)
        }
        return true
    }

    /// Where an unresolved delivery belongs, from the relay's table
    /// (`q/deliveries.compact`'s answer): its conversation and seq, to fetch
    /// with `history.sync`; nil when the answer is of another generation or
    /// does not hold the ref.
    public static func locate(_ unresolved: Unresolved, in refs: Relay_V1_CompactRefs) -> (conversation: ConversationID, seq: UInt64)? {
        guard unresolved.generation != 0, refs.generation == unresolved.generation, unresolved.seq > 0 else { return nil }
        let index = Int(unresolved.conversationRef) - 1
        guard refs.conversations.indices.contains(index) else { return nil }
        return ConversationID(rawValue: refs.conversations[index]).map { ($0, unresolved.seq) }
    }
}
