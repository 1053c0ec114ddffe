/// Limits on a `Send` payload, set per region (docs/protocol.md, "Limits").
public struct SendLimits: Hashable, Sendable, Codable {
    /// Default most bytes of an encoded `Send`: 64 KiB (media travels
    /// separately; a message carries its key and reference).
    public static let defaultMaximumSendBytes = 64 * 1024
    /// Most bytes of a `client_message_id`.
    public static let maximumClientMessageIDLength = 64

    /// The most bytes an encoded `Send` may have.
    public var maximumSendBytes: Int

    /// Limits with the documented default unless given.
    public init(maximumSendBytes: Int = SendLimits.defaultMaximumSendBytes) {
        precondition(maximumSendBytes > 0, "maximum send size must be positive")
        self.maximumSendBytes = maximumSendBytes
    }
}
