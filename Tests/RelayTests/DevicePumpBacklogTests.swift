@testable import RelayChat
import Testing

/// `DevicePump.backlog`, the number `relay_device_queue_depth` records.
struct DevicePumpBacklogTests {
    @Test func countsPastTheCursorOrWhereTheUserJoined() {
        let snapshot = ChatStore.PumpSnapshot(
            dirty: [("alice~bob", 7), ("g1", 30), ("g2", 4)],
            cursors: ["alice~bob": 5],
            queued: [(1, [1])]
        )
        // alice~bob: 6 and 7; g1: joined at 20, so 21...30; g2: unknown join, from 0.
        #expect(DevicePump.backlog(snapshot, joined: ["g1": 20]) == 2 + 10 + 4)
    }

    @Test func aCursorAtOrPastTheMarkCountsNothing() {
        let snapshot = ChatStore.PumpSnapshot(dirty: [("c", 3), ("d", 2)], cursors: ["c": 3, "d": 9], queued: [])
        #expect(DevicePump.backlog(snapshot, joined: [:]) == 0)
        #expect(DevicePump.backlog(ChatStore.PumpSnapshot(dirty: [], cursors: [:], queued: []), joined: [:]) == 0)
    }
}
