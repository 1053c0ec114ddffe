import RelayCore

/// Mirror frames for the standby held for a short window before they go to
/// the outbox (async mode only, decision 0033), so that what cancels out
/// never travels: a status queued for a device and acknowledged by it
/// within the window is neither queued nor acknowledged at the standby,
/// and a device's later cursor in a conversation replaces its earlier one.
///
/// What it holds per target region, in order: `ReplicatedEntries` naming
/// single devices, `QueueAck`s and `CursorUpdate`s. A value without I/O:
/// ``Replicator`` keeps it under a lock and ships what ``take(_:)`` gives.
struct MirrorGather: Sendable {
    private var pending: [String: [Relay_V1_Frame]] = [:]
    /// Targets with a flush scheduled or a ship in flight: one at a time
    /// per target, so that the outbox gets the frames in order.
    private var flushing: Set<String> = []

    /// Whether `frame` is a kind this gathers.
    static func gathers(_ frame: Relay_V1_Frame) -> Bool {
        switch frame.body {
        case .entries(let entries): entries.users.isEmpty && !entries.devices.isEmpty
        case .queueAck, .cursor: true
        default: false
        }
    }

    /// Holds `frames` (each a kind ``gathers(_:)`` says) for `target`,
    /// cancelling what they cancel; returns whether the caller must
    /// schedule a flush of `target` (none is scheduled or in flight).
    mutating func add(_ frames: [Relay_V1_Frame], for target: String) -> Bool {
        var list = pending[target] ?? []
        for frame in frames {
            switch frame.body {
            case .queueAck(let ack):
                if Self.cancel(ack, term: frame.term, in: &list) { continue }
            case .cursor(let cursor):
                if Self.merge(cursor, term: frame.term, in: &list) { continue }
            default:
                break
            }
            list.append(frame)
        }
        pending[target] = list.isEmpty ? nil : list
        guard !list.isEmpty, !flushing.contains(target) else { return false }
        flushing.insert(target)
        return true
    }

    /// The frames held for `target`, in order, to ship now; it holds none
    /// after. Call ``shipped(_:)`` or ``failed(_:for:)`` when the ship ends.
    mutating func take(_ target: String) -> [Relay_V1_Frame] {
        pending.removeValue(forKey: target) ?? []
    }

    /// The frames taken for `target` are in its outbox: whether to schedule
    /// another flush (more came meanwhile).
    mutating func shipped(_ target: String) -> Bool {
        guard pending[target] != nil else {
            flushing.remove(target)
            return false
        }
        return true
    }

    /// The frames taken for `target` could not be appended: they go back
    /// before whatever came since, and a flush is to be scheduled again.
    mutating func failed(_ frames: [Relay_V1_Frame], for target: String) {
        guard !frames.isEmpty else { return }
        pending[target] = frames + (pending[target] ?? [])
    }

    // MARK: - Rules

    /// An acknowledgement of an entry still held for its device (under the
    /// same term: a frame of an older term may be refused): the entry
    /// leaves the held frame (the device, when the frame carries one entry;
    /// the entry, when it names one device) and the acknowledgement is not
    /// needed. A frame with several entries for several devices cannot
    /// drop one pair: the acknowledgement is kept.
    private static func cancel(_ ack: Relay_V1_QueueAck, term: UInt32, in list: inout [Relay_V1_Frame]) -> Bool {
        for index in list.indices.reversed() {
            guard list[index].term == term, case .entries(var entries) = list[index].body, entries.devices[ack.device] != nil,
                  let position = entries.entries.firstIndex(of: ack.entry)
            else { continue }
            if entries.entries.count == 1 {
                entries.devices[ack.device] = nil
            } else if entries.devices.count == 1 {
                entries.entries.remove(at: position)
            } else {
                return false
            }
            if entries.devices.isEmpty || entries.entries.isEmpty {
                list.remove(at: index)
            } else {
                list[index].entries = entries
            }
            return true
        }
        return false
    }

    /// A device's cursor in a conversation whose earlier cursor is held
    /// (under the same term): the held one moves to the later seq (cursors
    /// only move forward).
    private static func merge(_ cursor: Relay_V1_CursorUpdate, term: UInt32, in list: inout [Relay_V1_Frame]) -> Bool {
        for index in list.indices.reversed() {
            guard list[index].term == term, case .cursor(var held) = list[index].body, held.device == cursor.device, held.conversation == cursor.conversation else { continue }
            held.seq = max(held.seq, cursor.seq)
            list[index].cursor = held
            return true
        }
        return false
    }
}
