import RelayCore
import Synchronization

/// One MQTT session's compact deliveries (docs/decisions/0030): whether its
/// device asked for them (`q/deliveries.compact`) and the refs its client
/// was told (RelayCore's ``CompactDeliveryTable``).
///
/// Created only when the device first asks, so a session that never does
/// pays one nil reference in its pump. Shared by the pumps of one MQTT
/// session: when a session is resumed (a takeover with Clean Start 0), its
/// new pump takes this over from the old one, whose unacknowledged
/// PUBLISHes the session resends as they were; their acknowledgements, which
/// reach the old pump's callbacks, count here. A table unused for a while
/// is cleared (``idleCheck()``), so an idle session holds no refs.
final class CompactSession: Sendable {
    private struct State: Sendable {
        var on = false
        var table = CompactDeliveryTable()
        /// A pump has an idle check scheduled for this table.
        var checkScheduled = false
    }

    private let state = Mutex(State())

    /// A session that sends the full form until ``set(on:)``.
    init() {}

    /// Turns the compact form on or off; returns the table as it stands
    /// (the answer to `q/deliveries.compact`). Off clears the table once no
    /// compact delivery is outstanding.
    func set(on: Bool) -> Relay_V1_CompactRefs {
        state.withLock { state in
            state.on = on
            if !on { state.table.clear() }
            return state.table.refs(on: on)
        }
    }

    /// The compact form of `full` for a device of `recipientUser`, when the
    /// session asked for it and the table can take it (nil: send `full`),
    /// and whether the caller should schedule an idle check.
    func compact(_ full: Relay_V1_Delivery, recipientUser: String) -> (delivery: Relay_V1_Delivery, scheduleCheck: Bool)? {
        state.withLock { state in
            guard state.on, let compact = state.table.compact(full, recipientUser: recipientUser) else { return nil }
            defer { state.checkScheduled = true }
            return (compact, !state.checkScheduled)
        }
    }

    /// A compact delivery was acknowledged.
    func acknowledged() {
        state.withLock { $0.table.acknowledged() }
    }

    /// Called periodically while the table holds refs: clears it when no
    /// delivery was compacted since the last check (or the form is off) and
    /// none is outstanding. Returns whether to check again.
    func idleCheck() -> Bool {
        state.withLock { state in
            let used = state.table.takeUsed()
            if (!used || !state.on) && state.table.clear() {
                state.checkScheduled = false
                return false
            }
            return true
        }
    }

    /// The pump that scheduled the checks is gone: the next pump of this
    /// session schedules them again (``takeNeedsCheck()``).
    func checksStopped() {
        state.withLock { $0.checkScheduled = false }
    }

    /// Whether the table holds refs and no check is scheduled (a new pump
    /// that took this session over schedules one and marks it).
    func takeNeedsCheck() -> Bool {
        state.withLock { state in
            guard !state.table.isEmpty, !state.checkScheduled else { return false }
            state.checkScheduled = true
            return true
        }
    }

    /// The table's current generation and counts, for tests and logs.
    var refs: Relay_V1_CompactRefs {
        state.withLock { $0.table.refs(on: $0.on) }
    }
}
