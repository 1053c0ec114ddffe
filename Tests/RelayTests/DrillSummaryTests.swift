@testable import RelayDrill
import Testing

@Suite struct DrillSummaryTests {
    func report(rto: Double?, detection: Double?, lost: Int = 0, duplicates: Int = 0) -> DrillReport {
        DrillReport(
            kind: "failover", automatic: true, detectionMs: detection, region: "us-east", standby: "eu-west", mode: "sync",
            devices: 6, rate: 20, durationSeconds: 3, rtoMs: rto, rpoMessages: lost, rpoMs: 0, ackedBeforeKill: 10,
            lostAcknowledged: lost, duplicates: duplicates, outOfOrder: 0, maxReplicationLagMs: 0, maxReplicationLagRegion: nil,
            maxOutboxFrames: 0, lagSamples: 1, sent: 100, published: 100, acked: 100, delivered: 100 - lost, deliveries: 100,
            unacknowledged: 0, refusals: 0, timeline: [:], notes: [], series: nil)
    }

    @Test func spreadAndTotalsOverTheRuns() throws {
        let summary = DrillSummary([
            report(rto: 3000, detection: 2100), report(rto: 4000, detection: 2300, lost: 1),
            report(rto: nil, detection: 2200, duplicates: 2), report(rto: 3500, detection: 2150),
        ])
        #expect(summary.runs.map(\.run) == [1, 2, 3, 4])
        let rto = try #require(summary.rtoMs)
        #expect((rto.min, rto.median, rto.max) == (3000, 3500, 4000))
        #expect(summary.runsWithoutRTO == 1)
        #expect(summary.detectionMs?.median == 2175)
        #expect(summary.lostAcknowledged == 1 && summary.duplicates == 2)
        #expect(summary.text.contains("RTO min / median / max: 3000 / 3500 / 4000 ms (1 runs without one)"))
        #expect(summary.json.contains(#""lostAcknowledged":1"#))
        #expect(DrillSummary.Spread([]) == nil)
    }
}
