import MetricsScrape
import RelayOps

/// Reads every live region's `/metrics` once a second during a drill and
/// keeps the largest replication lag seen: `relay_replication_lag_seconds`
/// (age of the oldest unacknowledged frame) and
/// `relay_replication_outbox_frames` (frames not yet acknowledged), over all
/// peers, and every reading per link for the drill's plots. A region that
/// does not answer (killed) is skipped.
final class ReplicationLagSampler: Sendable {
    /// The largest values seen.
    struct Peak: Sendable, Hashable, Codable {
        /// Largest `relay_replication_lag_seconds`, in ms.
        var lagMs: Double = 0
        /// Largest `relay_replication_outbox_frames`.
        var outboxFrames: Double = 0
        /// Region whose outbox held the largest lag.
        var lagRegion: String?
        /// Scrapes that answered.
        var samples = 0
    }

    /// Since when every region that answered has had empty outboxes (nil while some has frames).
    private let emptySince = AwaitableState<ContinuousClock.Instant?>(nil)

    private let regions: [(name: String, address: HostPort)]
    private let peak = AwaitableState(Peak())
    private let readings = AwaitableState<[String: [DrillSeries.LinkSample]]>([:])
    private let clock: DrillClock
    private let task = AwaitableState<Task<Void, Never>?>(nil)

    /// A sampler of the regions' HTTP endpoints (`name`, `HOST:PORT`).
    init(regions: [(name: String, http: String)], clock: DrillClock = DrillClock()) {
        self.regions = regions.compactMap { region in HostPort(argument: region.http).map { (region.name, $0) } }
        self.clock = clock
    }

    /// Every reading so far, per link ("region->peer").
    var linkSamples: [String: [DrillSeries.LinkSample]] { readings.value }

    /// Starts sampling once a second.
    func start() {
        let sampling = Task {
            while !Task.isCancelled {
                await self.sampleOnce()
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.update { $0 = sampling }
    }

    /// Stops sampling; returns the peak.
    func stop() -> Peak {
        task.value?.cancel()
        return peak.value
    }

    /// How long every region that answers has had nothing left to replicate; zero while some has.
    var outboxesEmptyFor: Duration {
        emptySince.value.map { ContinuousClock.now - $0 } ?? .zero
    }

    /// Keeps this scrape's lag and depth of each of the region's links.
    private func record(region: String, text: String) {
        let at = clock.nowMs
        var byPeer: [String: DrillSeries.LinkSample] = [:]
        for sample in PrometheusText.samples(of: "relay_replication_lag_seconds", in: text) {
            guard let peer = sample.labels["peer"] else { continue }
            byPeer[peer, default: .init(atMs: at, lagMs: 0, outboxFrames: 0)].lagMs = sample.value * 1000
        }
        for sample in PrometheusText.samples(of: "relay_replication_outbox_frames", in: text) {
            guard let peer = sample.labels["peer"] else { continue }
            byPeer[peer, default: .init(atMs: at, lagMs: 0, outboxFrames: 0)].outboxFrames = sample.value
        }
        let found = byPeer
        readings.update { readings in
            for (peer, reading) in found { readings[DrillSeries.link(region, peer), default: []].append(reading) }
        }
    }

    /// Scrapes every region once.
    func sampleOnce() async {
        var pending: Double = 0
        var answered = 0
        for region in regions {
            guard let text = try? await PlainHTTP.get("/metrics", host: region.address.host, port: region.address.port) else { continue }
            let lag = PrometheusText.maximum(of: "relay_replication_lag_seconds", in: text)
            let frames = PrometheusText.maximum(of: "relay_replication_outbox_frames", in: text)
            record(region: region.name, text: text)
            pending += frames ?? 0
            answered += 1
            peak.update { peak in
                peak.samples += 1
                if let lag, lag * 1000 > peak.lagMs {
                    peak.lagMs = lag * 1000
                    peak.lagRegion = region.name
                }
                if let frames { peak.outboxFrames = max(peak.outboxFrames, frames) }
            }
        }
        let now = ContinuousClock.now
        guard answered > 0 else { return }
        let empty = pending == 0
        emptySince.update { since in since = empty ? (since ?? now) : nil }
    }
}
