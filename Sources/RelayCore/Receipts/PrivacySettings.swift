/// A user's privacy switches (the `privacy.set` request).
public struct PrivacySettings: Hashable, Sendable {
    /// Who may see a user's last seen time.
    public enum LastSeen: String, Hashable, Sendable, CaseIterable {
        /// Users who share a conversation with them.
        case everyone
        /// No one.
        case nobody
    }

    /// Send read receipts to others, and receive theirs. Off in either user
    /// means no `Status READ` between them (docs/protocol.md, "Receipts").
    public var readReceipts: Bool
    /// Who sees last seen.
    public var lastSeen: LastSeen

    /// The defaults: read receipts on, last seen visible to everyone.
    public init(readReceipts: Bool = true, lastSeen: LastSeen = .everyone) {
        self.readReceipts = readReceipts
        self.lastSeen = lastSeen
    }

    /// Applies a `privacy.set` request: only the fields it sets change.
    public mutating func apply(_ request: Relay_V1_PrivacySettings) throws(PrivacySettingsError) {
        var updated = self
        if request.hasReadReceipts { updated.readReceipts = request.readReceipts }
        if request.hasLastSeen {
            guard let lastSeen = LastSeen(rawValue: request.lastSeen) else {
                throw .unknownLastSeen(request.lastSeen)
            }
            updated.lastSeen = lastSeen
        }
        self = updated
    }
}

/// Why a `privacy.set` request is refused.
public enum PrivacySettingsError: RelayRefusal, Hashable {
    /// `last_seen` is neither `everyone` nor `nobody`.
    case unknownLastSeen(String)

    /// `bad_request`.
    public var code: ErrorCode { .badRequest }
    /// 0x83 Implementation specific error.
    public var reasonCode: UInt8 { RefusalReasonCode.implementationSpecificError }
    /// A one-line explanation.
    public var message: String { "last_seen must be \"everyone\" or \"nobody\"" }
}
