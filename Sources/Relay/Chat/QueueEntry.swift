/// One entry of a device's durable queue, as stored in Redis: a reference
/// to a message in a conversation log (the ciphertext is stored once), or a
/// whole small payload (a status or an event).
enum QueueEntry: Equatable, Sendable {
    case message(conversation: String, seq: UInt64)
    case status([UInt8])
    case event([UInt8])

    /// "m|<conversation>|<seq>", "s|<bytes>" or "e|<bytes>".
    var bytes: [UInt8] {
        switch self {
        case .message(let conversation, let seq): return Array("m|\(conversation)|\(seq)".utf8)
        case .status(let payload): return Array("s|".utf8) + payload
        case .event(let payload): return Array("e|".utf8) + payload
        }
    }

    init?(bytes: [UInt8]) {
        guard bytes.count >= 2, bytes[1] == UInt8(ascii: "|") else { return nil }
        let rest = Array(bytes[2...])
        switch bytes[0] {
        case UInt8(ascii: "m"):
            guard let text = String(validating: rest, as: UTF8.self),
                  let bar = text.lastIndex(of: "|"),
                  let seq = UInt64(text[text.index(after: bar)...])
            else { return nil }
            self = .message(conversation: String(text[..<bar]), seq: seq)
        case UInt8(ascii: "s"): self = .status(rest)
        case UInt8(ascii: "e"): self = .event(rest)
        default: return nil
        }
    }
}
