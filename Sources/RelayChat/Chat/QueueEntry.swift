/// One entry of a device's queue of small payloads, as stored in Redis: a
/// status or an event. (Messages are not queued per device: the device's
/// pump reads them from the conversation log by cursor.)
enum QueueEntry: Equatable, Sendable {
    case status([UInt8])
    case event([UInt8])

    /// "s|<bytes>" or "e|<bytes>".
    var bytes: [UInt8] {
        switch self {
        case .status(let payload): return Array("s|".utf8) + payload
        case .event(let payload): return Array("e|".utf8) + payload
        }
    }

    init?(bytes: [UInt8]) {
        guard bytes.count >= 2, bytes[1] == UInt8(ascii: "|") else { return nil }
        let rest = Array(bytes[2...])
        switch bytes[0] {
        case UInt8(ascii: "s"): self = .status(rest)
        case UInt8(ascii: "e"): self = .event(rest)
        default: return nil
        }
    }
}
