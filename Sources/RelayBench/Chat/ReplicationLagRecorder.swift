import MetricsScrape

/// What `ReplicationLagRecorder` saw: for each region and peer, every
/// sample of the two replication gauges, and the first and last reading of
/// the frames-shipped counter.
struct ReplicationLagRecording: Sendable, Hashable {
    /// The samples of one region's outbox towards one peer, in scrape order.
    struct Series: Sendable, Hashable {
        var lagMs: [Double] = []
        var outboxFrames: [Double] = []
        /// `relay_replication_frames_shipped_total` (frames the peer acknowledged) at the first and the last scrape.
        var shippedFirst: Double?
        var shippedLast: Double?
    }

    /// Region name → peer → samples.
    var series: [String: [String: Series]] = [:]
    /// Region name → scrapes that answered, and that did not.
    var answered: [String: Int] = [:]
    var unanswered: [String: Int] = [:]

    /// Adds one scrape's text from `region`.
    mutating func record(_ text: String, from region: String) {
        answered[region, default: 0] += 1
        for sample in PrometheusText.samples(of: "relay_replication_lag_seconds", in: text) {
            update(region, sample) { $0.lagMs.append(sample.value * 1000) }
        }
        for sample in PrometheusText.samples(of: "relay_replication_outbox_frames", in: text) {
            update(region, sample) { $0.outboxFrames.append(sample.value) }
        }
        for sample in PrometheusText.samples(of: "relay_replication_frames_shipped_total", in: text) {
            update(region, sample) { series in
                series.shippedFirst = series.shippedFirst ?? sample.value
                series.shippedLast = sample.value
            }
        }
    }

    private mutating func update(_ region: String, _ sample: PrometheusSample, _ change: (inout Series) -> Void) {
        change(&series[region, default: [:]][sample.labels["peer"] ?? "", default: Series()])
    }

    /// One summary per region and peer, sorted.
    func summaries() -> [ReplicationLagSummary] {
        series.sorted { $0.key < $1.key }.flatMap { region, peers in
            peers.sorted { $0.key < $1.key }.map { peer, series in
                ReplicationLagSummary(region: region, peer: peer, series: series)
            }
        }
    }
}

/// Samples the replication gauges of each target's `/metrics` at a fixed
/// interval: `relay_replication_lag_seconds` (age of the oldest frame the
/// peer has not acknowledged), `relay_replication_outbox_frames` and
/// `relay_replication_frames_shipped_total`, per `peer`. The relay refreshes the two gauges on its own timer (once a second
/// by default), so samples taken more often repeat values.
struct ReplicationLagRecorder: Sendable {
    var targets: [MetricsTarget]
    var interval: Duration = .milliseconds(100)

    /// Scrapes every target, one after another, every `interval` until the
    /// task is cancelled; returns what it saw. A target that does not
    /// answer counts as unanswered and is asked again next time.
    func record() async -> ReplicationLagRecording {
        var recording = ReplicationLagRecording()
        let clock = ContinuousClock()
        var next = clock.now
        while !Task.isCancelled {
            for target in targets {
                do {
                    let text = try await PlainHTTP.get("/metrics", host: target.host, port: target.port)
                    recording.record(text, from: target.name)
                } catch {
                    // Cancelled in the middle of a scrape: that one does not count.
                    if Task.isCancelled { break }
                    recording.unanswered[target.name, default: 0] += 1
                }
            }
            next = max(next + interval, clock.now)
            do { try await Task.sleep(until: next, clock: clock) } catch { break }
        }
        return recording
    }
}
