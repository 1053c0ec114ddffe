/// The read-receipt rule (docs/protocol.md, "Receipts"): who is told that a
/// member read a conversation.
///
/// The read marker itself moves in the store, atomically with the check
/// that the reader is a member and that the marker only moves forward and
/// never past the conversation's latest message (`receipt.lua`; decision
/// 0021 says why rules over the store's state run there). What the relay
/// decides in Swift once the marker moved is this: the audience and the
/// status it gets.
public enum ReadReceipts {
    /// The members told that `reader` read: every other member whose read
    /// receipts are on, and nobody when the reader turned theirs off (either
    /// side's switch silences a receipt). Each member once, in `members`'
    /// order.
    public static func audience(reader: UserID, members: some Sequence<UserID>, receiptsOn: Set<UserID>) -> [UserID] {
        guard receiptsOn.contains(reader) else { return [] }
        var seen = Set<UserID>()
        return members.filter { $0 != reader && receiptsOn.contains($0) && seen.insert($0).inserted }
    }
}
