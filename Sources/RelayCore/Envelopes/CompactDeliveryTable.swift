/// The relay's side of compact deliveries (docs/protocol.md, "Compact
/// deliveries"; docs/decisions/0030): the refs one MQTT session's client has
/// been told, and the rule that turns a full `Delivery` into its compact form.
///
/// A conversation's first delivery in the table carries `conversation`,
/// `epoch` and a new `conversation_ref`; later ones only the ref (and the
/// epoch when it changed). The same for the sender, a (user, device) pair,
/// and `sender_ref`. The sender's client message id is left out unless the
/// recipient is the sender's own user. The table holds at most
/// ``maximumRefs`` of each kind; a delivery that needs one more starts a new
/// table (a new generation, announced in `refs_generation`), as does the
/// first delivery after ``clear()``.
///
/// Refs are never reassigned within a generation, and a new generation
/// starts only while no compact delivery is unacknowledged (``outstanding``
/// is 0): until then, a delivery that would need one goes out in the full
/// form. So every PUBLISH the relay may still send again (a resumed MQTT
/// session resends the unacknowledged ones, in order) is of the current
/// generation, and resolves the same way the second time. Pure value type:
/// the pump that owns it compacts deliveries in the order they go out.
public struct CompactDeliveryTable: Sendable, Equatable {
    /// The most refs of each kind in one table (conversations, senders).
    public static let maximumRefs = 64

    /// A sender: one device of one user.
    public struct Sender: Sendable, Hashable {
        public var user: String
        public var device: String

        public init(user: String, device: String) {
            self.user = user
            self.device = device
        }
    }

    /// The current table's generation; 0 when there is none (nothing was
    /// compacted since the table was created or cleared).
    public private(set) var generation: UInt32 = 0
    /// The last generation handed out, so that a new table never repeats one.
    private var lastGeneration: UInt32 = 0
    /// Ref n is `conversations[n - 1]`, last told at epoch `epochs[n - 1]`.
    private var conversations: [String] = []
    private var epochs: [UInt32] = []
    /// Sender ref n is `senders[n - 1]`.
    private var senders: [Sender] = []
    /// A delivery was compacted since the last ``takeUsed()``.
    private var used = false
    /// Compact deliveries sent and not acknowledged yet.
    public private(set) var outstanding = 0

    /// An empty table.
    public init() {}

    /// Whether the table holds nothing (its storage is released).
    public var isEmpty: Bool { generation == 0 }

    /// `full` in the compact form for a device of `recipientUser`, assigning
    /// refs as needed, and counted outstanding until ``acknowledged()``; nil
    /// when it goes out in the full form: a membership delivery, or one that
    /// needs a new table while compact deliveries are outstanding.
    public mutating func compact(_ full: Relay_V1_Delivery, recipientUser: String) -> Relay_V1_Delivery? {
        guard !full.hasMembership, !full.conversation.isEmpty else { return nil }
        let sender = full.fromUser.isEmpty && full.fromDevice.isEmpty ? nil : Sender(user: full.fromUser, device: full.fromDevice)
        var conversationIndex = conversations.firstIndex(of: full.conversation)
        var senderIndex = sender.flatMap { senders.firstIndex(of: $0) }
        let conversationsFull = conversationIndex == nil && conversations.count >= Self.maximumRefs
        let sendersFull = sender != nil && senderIndex == nil && senders.count >= Self.maximumRefs
        var compact = Relay_V1_Delivery()
        if generation == 0 || conversationsFull || sendersFull {
            guard outstanding == 0 else { return nil }
            startTable()
            conversationIndex = nil
            senderIndex = nil
            compact.refsGeneration = generation
        }
        used = true
        outstanding += 1

        if let index = conversationIndex {
            if epochs[index] != full.epoch {
                compact.epoch = full.epoch
                epochs[index] = full.epoch
            }
            compact.conversationRef = UInt32(index + 1)
        } else {
            conversations.append(full.conversation)
            epochs.append(full.epoch)
            compact.conversation = full.conversation
            compact.epoch = full.epoch
            compact.conversationRef = UInt32(conversations.count)
        }
        if let sender {
            if let index = senderIndex {
                compact.senderRef = UInt32(index + 1)
            } else {
                senders.append(sender)
                compact.fromUser = sender.user
                compact.fromDevice = sender.device
                compact.senderRef = UInt32(senders.count)
            }
        }
        compact.seq = full.seq
        compact.serverTimeMs = full.serverTimeMs
        compact.ciphertext = full.ciphertext
        compact.replyToSeq = full.replyToSeq
        if full.fromUser == recipientUser { compact.clientMessageID = full.clientMessageID }
        return compact
    }

    /// A compact delivery was acknowledged.
    public mutating func acknowledged() {
        outstanding = max(0, outstanding - 1)
    }

    /// Forgets every ref and releases the storage, when no compact delivery
    /// is outstanding (returns whether it did); the next compacted delivery
    /// starts a new generation.
    @discardableResult
    public mutating func clear() -> Bool {
        guard outstanding == 0 else { return false }
        generation = 0
        conversations = []
        epochs = []
        senders = []
        return true
    }

    /// Whether a delivery was compacted since the last call (the pump asks
    /// periodically, and clears an unused table).
    public mutating func takeUsed() -> Bool {
        defer { used = false }
        return used
    }

    /// The table as a client may look it up (`CompactRefs`), `on` as given.
    public func refs(on: Bool) -> Relay_V1_CompactRefs {
        var refs = Relay_V1_CompactRefs()
        refs.on = on
        refs.generation = generation
        refs.conversations = conversations
        refs.epochs = epochs
        refs.senders = senders.map { sender in
            var s = Relay_V1_CompactSender()
            s.user = sender.user
            s.device = sender.device
            return s
        }
        return refs
    }

    private mutating func startTable() {
        clear()  // outstanding is 0 here
        // Wraps past 2^32 - 1 to 1 (0 means "no table"); a session never gets near.
        lastGeneration = lastGeneration == UInt32.max ? 1 : lastGeneration + 1
        generation = lastGeneration
    }
}
