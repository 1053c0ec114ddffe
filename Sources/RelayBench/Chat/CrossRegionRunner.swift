/// The two regions of a `cross-region` run and what connects them.
struct CrossRegionRoute: Sendable, Hashable, Codable {
    /// The senders' home region and the recipients'.
    var from: String
    var to: String
    var sequencedAt: PairSide
    /// The link's round-trip time as configured on its delay proxies, when given.
    var rttMs: Double?

    /// The region that sequences the conversations.
    var sequencingRegion: String { sequencedAt == .sender ? from : to }
}

/// Runs the `cross-region` scenario: the `pairs` machinery with senders
/// and recipients in two regions, and the regions' replication gauges
/// sampled while it measures.
enum CrossRegionRunner {
    static func run(
        _ configuration: PairsConfiguration, route: CrossRegionRoute, metrics: [MetricsTarget],
        senderTokens: DeviceTokens, recipientTokens: DeviceTokens
    ) async throws -> CrossRegionResult {
        let recorder = ReplicationLagRecorder(targets: metrics)
        var (pairs, recording) = try await PairsRunner.run(
            configuration, senderTokens: senderTokens, recipientTokens: recipientTokens
        ) { await recorder.record() }
        pairs.scenario = "cross-region"
        return CrossRegionResult(pairs: pairs, route: route, metrics: metrics, recording: recording,
                                 recipientHost: configuration.recipientHost, recipientPort: configuration.recipientPort)
    }
}
