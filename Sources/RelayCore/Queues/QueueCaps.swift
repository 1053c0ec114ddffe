/// The caps on one device's queue (docs/protocol.md, "Receiving"): at most
/// `maximumMessages` messages, `maximumBytes` bytes of ciphertext, and nothing
/// older than `maximumAgeMilliseconds`. The byte cap must be at least the
/// largest `Send` allowed, or one message could empty the queue.
public struct QueueCaps: Hashable, Sendable, Codable {
    /// Default count cap: 10,000 messages.
    public static let defaultMaximumMessages = 10_000
    /// Default byte cap: 64 MiB of ciphertext.
    public static let defaultMaximumBytes = 64 * 1024 * 1024
    /// Default age cap: 30 days.
    public static let defaultMaximumAgeMilliseconds: Int64 = 30 * 24 * 3600 * 1000

    /// The most messages a queue keeps.
    public var maximumMessages: Int
    /// The most ciphertext bytes a queue keeps.
    public var maximumBytes: Int
    /// The oldest a queued message may be, in milliseconds.
    public var maximumAgeMilliseconds: Int64

    /// Caps with the documented defaults unless given.
    public init(
        maximumMessages: Int = QueueCaps.defaultMaximumMessages,
        maximumBytes: Int = QueueCaps.defaultMaximumBytes,
        maximumAgeMilliseconds: Int64 = QueueCaps.defaultMaximumAgeMilliseconds
    ) {
        precondition(maximumMessages > 0 && maximumBytes > 0 && maximumAgeMilliseconds > 0, "caps must be positive")
        self.maximumMessages = maximumMessages
        self.maximumBytes = maximumBytes
        self.maximumAgeMilliseconds = maximumAgeMilliseconds
    }
}

/// One of the caps of ``QueueCaps``.
public enum QueueCap: String, Hashable, Sendable, CaseIterable, Comparable {
    /// The message count cap.
    case messages
    /// The byte cap.
    case bytes
    /// The age cap.
    case age

    /// Declaration order, so lists of caps read the same every time.
    public static func < (lhs: QueueCap, rhs: QueueCap) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
