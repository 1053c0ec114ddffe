import CoreMetrics
import NIOConcurrencyHelpers

/// Frames the chat side refused: `relay_replication_frames_refused_total{origin}`
/// counts frames from a region known to be failed over, written under an
/// older term, or carrying a conversation's older epoch.
struct ReplicationChatMetrics: Sendable {
    private let counters = NIOLockedValueBox<[String: Counter]>([:])

    func refused(origin: String) {
        let counter = counters.withLockedValue { counters in
            if let counter = counters[origin] { return counter }
            let counter = Counter(label: "relay_replication_frames_refused_total", dimensions: [("origin", origin)])
            counters[origin] = counter
            return counter
        }
        counter.increment()
    }
}
