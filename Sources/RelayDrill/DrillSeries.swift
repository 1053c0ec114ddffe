/// What a drill saw over time, for its plots (`--html`, the operations
/// console): deliveries per 100 ms per region, and each link's replication
/// lag and outbox depth as the regions' `/metrics` showed them. Times are ms
/// since the drill started.
package struct DrillSeries: Sendable, Codable, Hashable {
    /// Width of a delivery bucket, ms.
    static let bucketMs = 100.0

    /// One reading of one link (`region` → `peer`).
    package struct LinkSample: Sendable, Codable, Hashable {
        package var atMs: Double
        package var lagMs: Double
        package var outboxFrames: Double
    }

    /// Region (of the receiving device) → deliveries in each 100 ms bucket from 0.
    package var deliveredPer100ms: [String: [Int]] = [:]
    /// "region->peer" → readings in time order.
    package var links: [String: [LinkSample]] = [:]

    /// The series of `deliveries` (arrival ms, receiving device's home
    /// region) and link `samples`, up to `endMs`.
    init(deliveries: [(arrivalMs: Double, region: String)], links: [String: [LinkSample]], endMs: Double) {
        let buckets = max(1, Int((max(endMs, 0) / Self.bucketMs).rounded(.up)))
        var perRegion: [String: [Int]] = [:]
        for delivery in deliveries where delivery.arrivalMs >= 0 {
            let index = min(buckets - 1, Int(delivery.arrivalMs / Self.bucketMs))
            perRegion[delivery.region, default: Array(repeating: 0, count: buckets)][index] += 1
        }
        self.deliveredPer100ms = perRegion
        self.links = links.mapValues { $0.sorted { $0.atMs < $1.atMs } }
    }

    /// The key of link `region` → `peer`.
    static func link(_ region: String, _ peer: String) -> String { "\(region)->\(peer)" }
}
