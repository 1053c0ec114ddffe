/// Read-up-to bookkeeping per (conversation, member): the position up to
/// which each member has read each conversation. Markers only move forward;
/// a receipt at or behind the marker changes nothing (receipts arrive out of
/// order and are retried on flaky links).
///
/// This is the in-memory form of the rule; the store keeps the same rule in
/// Redis and can use ``advance(current:to:latest:)`` directly.
public struct ReadMarkers: Hashable, Sendable {
    private struct Key: Hashable, Sendable {
        var conversation: ConversationID
        var member: UserID
    }

    private var markers: [Key: MessagePosition] = [:]

    /// No markers.
    public init() {}

    /// How far `member` has read `conversation`; nil when nothing was read.
    public func position(of member: UserID, in conversation: ConversationID) -> MessagePosition? {
        markers[Key(conversation: conversation, member: member)]
    }

    /// Records that `member` read `conversation` up to `receipt`. Returns the
    /// advance, or nil when the marker did not move.
    ///
    /// - Parameter latest: the conversation's latest position, when known: a
    ///   receipt beyond it is refused.
    public mutating func record(
        _ receipt: MessagePosition,
        by member: UserID,
        in conversation: ConversationID,
        latest: MessagePosition? = nil
    ) throws(ReceiptError) -> ReadAdvance? {
        let key = Key(conversation: conversation, member: member)
        let current = markers[key]
        guard let next = try Self.advance(current: current, to: receipt, latest: latest) else { return nil }
        markers[key] = next
        return ReadAdvance(conversation: conversation, reader: member, from: current, to: next)
    }

    /// The monotonic rule alone: the new marker, or nil when `receipt` does
    /// not move `current` forward (it is at or behind it, or at seq 0).
    public static func advance(
        current: MessagePosition?,
        to receipt: MessagePosition,
        latest: MessagePosition?
    ) throws(ReceiptError) -> MessagePosition? {
        guard receipt.seq > 0 else { return nil }
        if let latest, latest < receipt { throw .aheadOfConversation(receipt: receipt, latest: latest) }
        if let current, receipt <= current { return nil }
        return receipt
    }
}

/// A member's read marker moved forward.
public struct ReadAdvance: Hashable, Sendable {
    /// The conversation.
    public var conversation: ConversationID
    /// The member who read.
    public var reader: UserID
    /// The marker before; nil when the member had read nothing.
    public var from: MessagePosition?
    /// The marker now.
    public var to: MessagePosition

    /// An advance of `reader` in `conversation` from `from` to `to`.
    public init(conversation: ConversationID, reader: UserID, from: MessagePosition?, to: MessagePosition) {
        self.conversation = conversation
        self.reader = reader
        self.from = from
        self.to = to
    }

    /// The `Status READ` messages this advance sends: one to each device of
    /// each author in `authors` (those who sent messages in the advanced
    /// range; passing every member is also correct, just chattier), except
    /// the reader, and only where both the reader and that author have read
    /// receipts on.
    public func statuses(readerPrivacy: PrivacySettings, authors: [ReceiptRecipient]) -> [AddressedStatus] {
        guard readerPrivacy.readReceipts else { return [] }
        let status = Relay_V1_Status.read(conversation: conversation, upTo: to, by: reader)
        var seen = Set<UserID>()
        var out: [AddressedStatus] = []
        for author in authors
        where author.user != reader && author.privacy.readReceipts && seen.insert(author.user).inserted {
            for device in author.devices {
                out.append(AddressedStatus(device: device, status: status))
            }
        }
        return out
    }
}

/// A user who may be told of a read, with their privacy switches and devices.
public struct ReceiptRecipient: Hashable, Sendable {
    /// The user.
    public var user: UserID
    /// Their privacy switches.
    public var privacy: PrivacySettings
    /// Their devices.
    public var devices: [DeviceID]

    /// A recipient.
    public init(user: UserID, privacy: PrivacySettings, devices: [DeviceID]) {
        self.user = user
        self.privacy = privacy
        self.devices = devices
    }
}

/// A `Status` for one device, published on `d/<device>/s`.
public struct AddressedStatus: Hashable, Sendable {
    /// The device.
    public var device: DeviceID
    /// The status.
    public var status: Relay_V1_Status

    /// `status` for `device`.
    public init(device: DeviceID, status: Relay_V1_Status) {
        self.device = device
        self.status = status
    }

    /// `d/<device>/s`.
    public var topic: String { device.topic(.status) }
}

/// Why a receipt is refused.
public enum ReceiptError: RelayRefusal, Hashable {
    /// The receipt names a position the conversation has not reached.
    case aheadOfConversation(receipt: MessagePosition, latest: MessagePosition)

    /// `bad_request`.
    public var code: ErrorCode { .badRequest }
    /// 0x83 Implementation specific error.
    public var reasonCode: UInt8 { RefusalReasonCode.implementationSpecificError }
    /// A one-line explanation.
    public var message: String {
        switch self {
        case .aheadOfConversation(let receipt, let latest):
            return "receipt at \(receipt) is beyond the conversation's latest message \(latest)"
        }
    }
}
