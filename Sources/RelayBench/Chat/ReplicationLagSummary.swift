/// One region's outbox towards one peer over a run: percentiles of the
/// sampled replication lag, the largest outbox seen, and how many frames
/// the peer acknowledged meanwhile.
struct ReplicationLagSummary: Sendable, Hashable, Codable {
    /// The scraped region (its `--metrics` name) and the peer its outbox ships to.
    var region: String
    var peer: String
    /// Samples of the lag gauge.
    var samples: Int
    /// Nearest-rank percentiles and maximum of the sampled lag, ms.
    var lagP50Ms: Double
    var lagP99Ms: Double
    var lagMaxMs: Double
    /// Largest sampled `relay_replication_outbox_frames`.
    var outboxFramesMax: Double
    /// Frames the peer acknowledged between the first and the last scrape.
    var framesShipped: Double

    init(region: String, peer: String, series: ReplicationLagRecording.Series) {
        let sorted = series.lagMs.sorted()
        self.region = region
        self.peer = peer
        samples = sorted.count
        lagP50Ms = Self.percentile(50, of: sorted)
        lagP99Ms = Self.percentile(99, of: sorted)
        lagMaxMs = sorted.last ?? 0
        outboxFramesMax = series.outboxFrames.max() ?? 0
        framesShipped = (series.shippedLast ?? 0) - (series.shippedFirst ?? 0)
    }

    /// The nearest-rank `p`th percentile of ascending `values`; 0 when empty.
    static func percentile(_ p: Double, of values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(values.count)).rounded(.up))
        return values[min(max(rank, 1), values.count) - 1]
    }
}
