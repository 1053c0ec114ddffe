import Foundation
import NIOCore
import Testing

@testable import RelayBench

@Suite struct CrossRegionResultTests {
    /// A relay's /metrics with its outbox to eu-west at `lag` seconds and `frames` frames, to ap-south empty.
    static func scrape(lag: String, frames: String, shipped: Int = 100) -> String {
        """
        relay_replication_frames_shipped_total{peer="eu-west"} \(shipped)
        # TYPE relay_replication_lag_seconds gauge
        relay_replication_lag_seconds{peer="eu-west"} \(lag)
        relay_replication_lag_seconds{peer="ap-south"} 0
        relay_replication_outbox_frames{peer="eu-west"} \(frames)
        relay_replication_outbox_frames{peer="ap-south"} 0
        """
    }

    static func result(recording: ReplicationLagRecording, outcome: PairOutcome) -> CrossRegionResult {
        let configuration = PairsConfiguration(
            host: "127.0.0.1", port: 1883, recipientHost: "127.0.0.1", recipientPort: 1920, firstUser: .recipient,
            pairs: 1, rate: 10, window: 8, payloadSize: 64, duration: .seconds(1), warmup: .zero, drainTimeout: .seconds(5),
            device: ChatDeviceOptions(), threads: 1, setupTimeout: .seconds(5), sources: [], label: "t"
        )
        var pairs = PairsResult([outcome], configuration: configuration, runID: "r1", cpuSeconds: 0.01)
        pairs.scenario = "cross-region"
        return CrossRegionResult(
            pairs: pairs, route: CrossRegionRoute(from: "us-east", to: "eu-west", sequencedAt: .recipient, rttMs: 80),
            metrics: [MetricsTarget(argument: "us-east=127.0.0.1:8110")!, MetricsTarget(argument: "127.0.0.1:8120")!],
            recording: recording, recipientHost: "127.0.0.1", recipientPort: 1920
        )
    }

    static var outcome: PairOutcome {
        var o = PairOutcome()
        o.sent = 10
        o.acknowledged = 10
        o.delivered = 10
        for i: UInt64 in 1...10 {
            o.ack.record(i * 1_000_000)
            o.delivery.record(40_000_000 + i * 1_000_000)
        }
        o.startedAt = 1_000_000_000
        o.stoppedAt = 2_000_000_000
        o.lastDeliveredAt = 2_050_000_000
        return o
    }

    @Test func metricsTargetsAreNamedOrNameThemselves() {
        #expect(MetricsTarget(argument: "us-east=127.0.0.1:8110") == MetricsTarget(argument: "us-east=127.0.0.1:8110"))
        let named = MetricsTarget(argument: "us-east=127.0.0.1:8110")
        #expect(named?.name == "us-east" && named?.host == "127.0.0.1" && named?.port == 8110)
        let bare = MetricsTarget(argument: "[::1]:8120")
        #expect(bare?.name == "[::1]:8120" && bare?.host == "::1" && bare?.port == 8120)
        #expect(MetricsTarget(argument: "127.0.0.1") == nil)
        #expect(MetricsTarget(argument: "=127.0.0.1:1") == nil)
        #expect(MetricsTarget(argument: "x=:8110") == nil)
    }

    @Test func lagIsSummarisedPerRegionAndPeerInMilliseconds() {
        var recording = ReplicationLagRecording()
        for (lag, frames, shipped) in [("0.04", "3", 100), ("0.08", "5", 110), ("0.12", "4", 130), ("0", "0", 137)] {
            recording.record(Self.scrape(lag: lag, frames: frames, shipped: shipped), from: "us-east")
        }
        recording.unanswered["127.0.0.1:8120"] = 2
        let summaries = recording.summaries()
        #expect(summaries.map(\.peer) == ["ap-south", "eu-west"])
        let eu = summaries[1]
        #expect(eu.region == "us-east" && eu.samples == 4)
        #expect(eu.lagP50Ms == 40 && eu.lagP99Ms == 120 && eu.lagMaxMs == 120)
        #expect(eu.outboxFramesMax == 5 && eu.framesShipped == 37)
        #expect(summaries[0].lagMaxMs == 0 && summaries[0].samples == 4 && summaries[0].framesShipped == 0)
        #expect(ReplicationLagSummary.percentile(50, of: []) == 0)
        #expect(ReplicationLagSummary.percentile(99, of: [1, 2, 3]) == 3)
    }

    @Test func jsonIsThePairsFiguresPlusRouteAndReplication() throws {
        var recording = ReplicationLagRecording()
        recording.record(Self.scrape(lag: "0.05", frames: "2"), from: "us-east")
        recording.unanswered["127.0.0.1:8120"] = 3
        let result = Self.result(recording: recording, outcome: Self.outcome)
        #expect(!result.failed)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.json().utf8)) as? [String: Any])
        #expect(object["scenario"] as? String == "cross-region")
        #expect(object["sent"] as? Int == 10 && object["delivered"] as? Int == 10 && object["lost"] as? Int == 0)
        let delivery = try #require(object["deliveryMicros"] as? [String: Any])
        #expect(delivery["count"] as? Int == 10)
        #expect((delivery["p50"] as? Double ?? 0) >= 44_000)
        #expect(object["fromHome"] as? String == "us-east" && object["toHome"] as? String == "eu-west")
        #expect(object["host"] as? String == "127.0.0.1" && object["port"] as? Int == 1883 && object["toPort"] as? Int == 1920)
        #expect(object["sequencedAt"] as? String == "recipient" && object["sequencingRegion"] as? String == "eu-west")
        #expect(object["rttMs"] as? Double == 80)
        let replication = try #require(object["replication"] as? [[String: Any]])
        #expect(replication.count == 2)
        #expect(replication[1]["peer"] as? String == "eu-west" && replication[1]["lagP50Ms"] as? Double == 50)
        #expect(replication[1]["outboxFramesMax"] as? Double == 2 && replication[1]["samples"] as? Int == 1)
        let metrics = try #require(object["metrics"] as? [[String: Any]])
        #expect(metrics.map { $0["region"] as? String } == ["us-east", "127.0.0.1:8120"])
        #expect(metrics[1]["unanswered"] as? Int == 3 && metrics[1]["answered"] as? Int == 0)
    }

    @Test func tableNamesTheRouteAndListsEachPeer() {
        var recording = ReplicationLagRecording()
        recording.record(Self.scrape(lag: "0.05", frames: "2"), from: "us-east")
        let table = Self.result(recording: recording, outcome: Self.outcome).table()
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0] == "relay-bench cross-region [t] us-east 127.0.0.1:1883 -> eu-west 127.0.0.1:1920, sequenced at recipient (eu-west), link rtt 80 ms")
        #expect(lines[1].hasPrefix("MQTT 5 (topic aliases) run r1 pairs=1"))
        #expect(lines[2].contains("dlv_p50_us") && lines[2].contains("dlv_max_us"))
        #expect(table.contains("lag_p50_ms"))
        #expect(lines.contains { $0.split(separator: " ") == ["us-east", "eu-west", "1", "50", "50", "50", "2", "0"] })
        #expect(lines.last == "127.0.0.1:8120 (127.0.0.1:8120): 0 scrapes answered, 0 not")
    }

    @Test func lossOrRefusalFails() {
        var lost = Self.outcome
        lost.delivered = 9
        #expect(Self.result(recording: ReplicationLagRecording(), outcome: lost).failed)
        var refused = Self.outcome
        refused.refused = 1
        refused.delivered = 9
        #expect(Self.result(recording: ReplicationLagRecording(), outcome: refused).failed)
    }
}
