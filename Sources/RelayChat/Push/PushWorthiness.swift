import RelayCore
import RelayPush

/// Which queued entries wake an offline device, and how urgently: events
/// (membership, prekeys low) and another party's statuses (delivered, read)
/// at normal urgency; a device's own SEQUENCED and refusal statuses answer
/// something it just did while connected and wake nothing. Messages
/// (marked, not queued) are high urgency at their call site.
enum PushWorthiness {
    static func urgency(of entries: [[UInt8]]) -> PushUrgency? {
        var worth = false
        for bytes in entries {
            switch QueueEntry(bytes: bytes) {
            case .event: worth = true
            case .status(let payload):
                guard let status = try? Relay_V1_Status(serializedBytes: payload) else { continue }
                if status.kind == .delivered || status.kind == .read { worth = true }
            case .none: continue
            }
        }
        return worth ? .normal : nil
    }
}

