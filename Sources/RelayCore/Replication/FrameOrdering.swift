/// What a replication frame must be applied after, on the receiver.
///
/// A link carries the frames of every conversation and device of its
/// origin in one order, but most of them concern one conversation or one
/// user: frames of different conversations (or users) may be applied side
/// by side, and their Redis writes then share fsyncs (Redis's group commit
/// under `appendfsync always`). A frame keeps the order of the link with
/// every earlier frame that shares a lane with it, and with every earlier
/// barrier.
public enum FrameOrdering: Hashable, Sendable {
    /// After the earlier frames of these lanes (and the last barrier).
    case lanes(Set<FrameLane>)
    /// After every earlier frame; every later frame waits for it.
    case barrier
    /// Best effort (typing, presence): waits for nothing but the last
    /// barrier, and only the next barrier waits for it.
    case free
}

/// One ordered stream inside a link: a conversation's log, receipts and
/// cursors, or a user's device queues.
public enum FrameLane: Hashable, Sendable {
    case conversation(String)
    case user(String)
}

extension Relay_V1_Frame {
    /// The ordering this frame needs on the receiver (``FrameOrdering``).
    /// Frames that change what other frames read (directory, devices,
    /// privacy, region states, keys, push registrations) are barriers, as
    /// is anything unknown.
    public var ordering: FrameOrdering {
        switch body {
        case .message(let message):
            return .lanes([.conversation(message.conversation)])
        case .forwardedSend(let forwarded):
            return .lanes([.conversation(forwarded.conversation)])
        case .receipt(let receipt):
            return .lanes([.conversation(receipt.conversation)])
        case .cursor(let cursor):
            return .lanes([.conversation(cursor.conversation)])
        case .conversation(let state):
            return .lanes([.conversation(state.conversation)])
        case .entries(let entries):
            let users = Set(entries.users).union(entries.devices.values)
            return users.isEmpty ? .barrier : .lanes(Set(users.map(FrameLane.user)))
        case .queueAck(let ack):
            // Written before acknowledgements named their user: keep them in order with everything.
            return ack.user.isEmpty ? .barrier : .lanes([.user(ack.user)])
        case .typing, .presence:
            return .free
        case .directory, .device, .region, .privacy, .keysRequest, .keysAnswer, .keysMirror, .pushRegistration, .none:
            return .barrier
        }
    }
}

/// The order in which a batch's frames may be applied: for each frame, the
/// earlier frames it waits for (``FrameOrdering``). Pure: the replication
/// router performs it.
public struct FrameSchedule: Equatable, Sendable {
    /// `waitsFor[i]`: indices of earlier frames that frame `i` is applied
    /// after (ascending; only the direct ones, the rest follows from them).
    public let waitsFor: [[Int]]

    /// The schedule of frames with these orderings, in link order.
    public init(_ orderings: [FrameOrdering]) {
        var waitsFor: [[Int]] = []
        waitsFor.reserveCapacity(orderings.count)
        var lastOfLane: [FrameLane: Int] = [:]
        var lastBarrier: Int?
        var freeSinceBarrier: [Int] = []
        for (index, ordering) in orderings.enumerated() {
            switch ordering {
            case .free:
                waitsFor.append(lastBarrier.map { [$0] } ?? [])
                freeSinceBarrier.append(index)
            case .lanes(let lanes):
                let earlier = Set(lanes.compactMap { lastOfLane[$0] })
                waitsFor.append(earlier.isEmpty ? (lastBarrier.map { [$0] } ?? []) : earlier.sorted())
                for lane in lanes { lastOfLane[lane] = index }
            case .barrier:
                // The tips of every lane, the free frames since the last
                // barrier, or the last barrier itself when nothing came after it.
                var earlier = Set(lastOfLane.values).union(freeSinceBarrier)
                if earlier.isEmpty, let lastBarrier { earlier.insert(lastBarrier) }
                waitsFor.append(earlier.sorted())
                lastOfLane = [:]
                freeSinceBarrier = []
                lastBarrier = index
            }
        }
        self.waitsFor = waitsFor
    }
}
