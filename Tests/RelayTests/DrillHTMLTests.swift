import Foundation
@testable import RelayCtlCommands
@testable import RelayDrill
import Testing

@Suite struct DrillHTMLTests {
    @Test func seriesBucketsDeliveriesPer100msPerRegion() {
        let series = DrillSeries(
            deliveries: [(5, "us-east"), (99, "us-east"), (100, "eu-west"), (250, "us-east"), (-1, "us-east"), (999, "eu-west")],
            links: ["us-east->eu-west": [.init(atMs: 2000, lagMs: 5, outboxFrames: 1), .init(atMs: 1000, lagMs: 90, outboxFrames: 3)]],
            endMs: 300)
        #expect(series.deliveredPer100ms["us-east"] == [2, 0, 1])
        // Past the end: the last bucket.
        #expect(series.deliveredPer100ms["eu-west"] == [0, 1, 1])
        #expect(series.links["us-east->eu-west"]?.map(\.atMs) == [1000, 2000])
    }

    @Test func thePageIsSelfContainedWithAPolylinePerRegionMarkersAndTheRTO() {
        var report = DrillReport(
            kind: "failover", automatic: true, detectionMs: 2300, region: "us-east", standby: "eu-west", mode: "sync",
            devices: 6, rate: 20, durationSeconds: 3, rtoMs: 3100, rpoMessages: 0, rpoMs: 0, ackedBeforeKill: 40,
            lostAcknowledged: 0, duplicates: 1, outOfOrder: 0, maxReplicationLagMs: 90, maxReplicationLagRegion: "us-east",
            maxOutboxFrames: 3, lagSamples: 9, sent: 120, published: 120, acked: 120, delivered: 120, deliveries: 121,
            unacknowledged: 0, refusals: 2, timeline: ["kill": 2000, "failed over automatically to eu-west (term 2)": 4300, "<b>odd</b>": 5000],
            notes: ["a note with <tags> & \"quotes\""], series: nil)
        report.series = DrillSeries(
            deliveries: [(100, "us-east"), (200, "eu-west"), (300, "ap-south")],
            links: ["us-east->eu-west": [.init(atMs: 1000, lagMs: 90, outboxFrames: 3), .init(atMs: 2000, lagMs: 5, outboxFrames: 0)]],
            endMs: 6000)
        let page = DrillHTML.page(report)
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.components(separatedBy: "<svg ").count - 1 == 3)
        #expect(page.components(separatedBy: "class=\"series\" data-name=\"").count - 1 == 3 + 1 + 1)
        for region in ["us-east", "eu-west", "ap-south"] { #expect(page.contains("data-name=\"\(region)\"")) }
        #expect(page.components(separatedBy: "class=\"marker\"").count - 1 == 3 * 3)
        #expect(page.contains("class=\"rto\"") && page.contains("RTO 3100 ms"))
        // No acknowledged send lost: no RPO drawn.
        #expect(!page.contains("class=\"rpo\""))
        var lossy = report
        lossy.rpoMessages = 2
        lossy.rpoMs = 150
        let lossyPage = DrillHTML.page(lossy)
        #expect(lossyPage.contains("class=\"rpo\"") && lossyPage.contains("RPO 2 messages, 150 ms"))
        #expect(page.contains("detected after</th><td>2300 ms"))
        // Escaped, and nothing fetched from elsewhere.
        #expect(page.contains("&lt;b&gt;odd&lt;/b&gt;") && !page.contains("<b>odd</b>"))
        #expect(page.contains("a note with &lt;tags&gt; &amp; &quot;quotes&quot;"))
        #expect(!page.contains("src=") && !page.contains("href=") && !page.contains("<script"))
    }

    @Test func numbersAreShortAndSafe() {
        #expect(DrillHTML.format(3100) == "3100" && DrillHTML.format(2.25) == "2.3" && DrillHTML.format(.nan) == "0")
        #expect(DrillHTML.format(1e300).hasPrefix("1"))
        #expect(RelayCtlDrillCommand.Failover.numbered("out/report.html", 2) == "out/report-2.html")
        #expect(RelayCtlDrillCommand.Failover.numbered("report", 3) == "report-3")
    }
}
