/// The outcome of one `relay-bench cross-region` run: the `pairs` figures
/// of its messages (under the same JSON keys, scenario `cross-region`), the
/// route they took, and the replication lag sampled while they did.
struct CrossRegionResult: ChatBenchResult, Sendable {
    /// How one `--metrics` endpoint answered.
    struct MetricsEndpoint: Sendable, Hashable, Codable {
        var region: String
        var endpoint: String
        var answered: Int
        var unanswered: Int
    }

    var pairs: PairsResult
    var route: CrossRegionRoute
    /// Where the recipients connected (the senders' endpoint is `pairs`').
    var toHost: String
    var toPort: Int
    var metrics: [MetricsEndpoint]
    /// Per scraped region and peer, sorted.
    var replication: [ReplicationLagSummary]

    var failed: Bool { pairs.failed }

    init(pairs: PairsResult, route: CrossRegionRoute, metrics: [MetricsTarget], recording: ReplicationLagRecording,
         recipientHost: String, recipientPort: Int) {
        self.pairs = pairs
        self.route = route
        toHost = recipientHost
        toPort = recipientPort
        self.metrics = metrics.map { target in
            MetricsEndpoint(region: target.name, endpoint: "\(target.host):\(target.port)",
                            answered: recording.answered[target.name] ?? 0, unanswered: recording.unanswered[target.name] ?? 0)
        }
        replication = recording.summaries()
    }

    private enum CodingKeys: String, CodingKey {
        case fromHome, toHome, toHost, toPort, sequencedAt, sequencingRegion, rttMs, metrics, replication
    }

    /// One flat object: `pairs`' keys, then the route and the replication figures.
    func encode(to encoder: any Encoder) throws {
        try pairs.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(route.from, forKey: .fromHome)
        try container.encode(route.to, forKey: .toHome)
        try container.encode(toHost, forKey: .toHost)
        try container.encode(toPort, forKey: .toPort)
        try container.encode(route.sequencedAt, forKey: .sequencedAt)
        try container.encode(route.sequencingRegion, forKey: .sequencingRegion)
        try container.encodeIfPresent(route.rttMs, forKey: .rttMs)
        try container.encode(metrics, forKey: .metrics)
        try container.encode(replication, forKey: .replication)
    }

    func table() -> String {
        let f = TextTable.format
        let header = "relay-bench cross-region\(pairs.label.map { " [\($0)]" } ?? "")"
            + " \(route.from) \(pairs.host):\(pairs.port) -> \(route.to) \(toHost):\(toPort),"
            + " sequenced at \(route.sequencedAt.rawValue) (\(route.sequencingRegion))"
            + (route.rttMs.map { ", link rtt \(f($0, 0)) ms" } ?? "")
        var lines = [header, pairs.settings] + pairs.figures()
        guard !metrics.isEmpty else { return lines.joined(separator: "\n") }
        lines.append("replication lag, sampled every 100 ms while measuring (each relay refreshes its gauges on its own timer, 1 s by default):")
        lines.append(TextTable.render(
            ["region", "peer", "samples", "lag_p50_ms", "lag_p99_ms", "lag_max_ms", "outbox_max", "shipped"],
            replication.map { r in
                [r.region, r.peer, "\(r.samples)", f(r.lagP50Ms, 0), f(r.lagP99Ms, 0), f(r.lagMaxMs, 0),
                 f(r.outboxFramesMax, 0), f(r.framesShipped, 0)]
            }
        ))
        for m in metrics where m.unanswered > 0 || m.answered == 0 {
            lines.append("\(m.region) (\(m.endpoint)): \(m.answered) scrapes answered, \(m.unanswered) not")
        }
        return lines.joined(separator: "\n")
    }
}
