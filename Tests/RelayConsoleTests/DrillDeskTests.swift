import Foundation
import Logging
@testable import RelayConsole
@testable import RelayDrill
import Testing

@Suite struct DrillDeskTests {
    static func report(region: String) -> DrillReport {
        DrillReport(
            kind: "failover", automatic: false, detectionMs: nil, region: region, standby: "eu-west", mode: "async",
            devices: 4, rate: 20, durationSeconds: 3, rtoMs: 900, rpoMessages: 1, rpoMs: 40, ackedBeforeKill: 30,
            lostAcknowledged: 1, duplicates: 0, outOfOrder: 0, maxReplicationLagMs: 90, maxReplicationLagRegion: "us-east",
            maxOutboxFrames: 3, lagSamples: 5, sent: 80, published: 80, acked: 80, delivered: 79, deliveries: 79,
            unacknowledged: 0, refusals: 0, timeline: ["kill": 2000, "failed back": 5000], notes: [],
            series: DrillSeries(deliveries: [(100, "us-east"), (200, "eu-west"), (2500, "ap-south")], links: [:], endMs: 6000))
    }

    /// A runner that waits until the test lets it finish.
    final class Gate: Sendable {
        let opened = AsyncStream<Void>.makeStream()
        func open() { opened.continuation.yield(); opened.continuation.finish() }
        func wait() async { for await _ in opened.stream { return } }
    }

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("console-drills-\(UUID().uuidString)").path
    }

    @Test(.timeLimit(.minutes(1))) func oneDrillAtATimeKeptInMemoryAndOnDiskAndReadBack() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = Gate()
        let (changes, changed) = AsyncStream<Void>.makeStream()
        let desk = try DrillDesk(
            directory: directory, deployment: .init(topologyPath: "topology.json", keyDir: "keys", runDir: "run"),
            logger: Logger(label: "test"),
            runner: { options in
                options.progress?("t+0 ms  devices connected")
                await gate.wait()
                return Self.report(region: options.region)
            },
            changed: { changed.yield() })
        let request = DrillRequest(kind: .failover, region: "us-east", mode: nil, automatic: false, devices: 4, rate: 20, duration: 3)
        let started = try desk.start(request)
        #expect(started.state == .running)
        // A second drill while one runs is refused.
        let second = Result { () throws(DrillDesk.Busy) -> DrillDesk.Record in try desk.start(request) }
        #expect(throws: DrillDesk.Busy.self) { try second.get() }
        gate.open()
        var iterator = changes.makeAsyncIterator()
        // Bounded: every change calls back; the drill finishes after the gate opens.
        for _ in 0..<10 {
            if desk.record(id: started.id)?.state == .done { break }
            _ = await iterator.next()
        }
        let done = try #require(desk.record(id: started.id))
        #expect(done.state == .done && done.progress == ["t+0 ms  devices connected"] && done.report?.rtoMs == 900)
        #expect(FileManager.default.fileExists(atPath: directory + "/\(started.id).html"))

        let html = ConsoleHTML.drillsFragment(desk.records)
        #expect(html.contains("id=\"drill-latest\" data-drill=\"\(started.id)\" data-state=\"done\""))
        #expect(html.contains("<svg id=\"delivered\""))
        for region in ["us-east", "eu-west", "ap-south"] { #expect(html.contains("class=\"series\" data-name=\"\(region)\"")) }
        #expect(html.contains("<tr class=\"drill\" data-drill=\"\(started.id)\" data-state=\"done\""))

        let reloaded = try DrillDesk(directory: directory, deployment: .init(topologyPath: "t", keyDir: "k", runDir: "r"),
                                     logger: Logger(label: "test"), changed: {})
        #expect(reloaded.records == desk.records)
    }

    @Test(.timeLimit(.minutes(1))) func aDrillThatCannotRunIsKeptAsFailed() async throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "region us-east is not up" } }
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (changes, changed) = AsyncStream<Void>.makeStream()
        let desk = try DrillDesk(
            directory: directory, deployment: .init(topologyPath: "topology.json", keyDir: "keys", runDir: "run"),
            logger: Logger(label: "test"), runner: { _ in throw Refused() }, changed: { changed.yield() })
        let started = try desk.start(DrillRequest(kind: .partition, region: "us-east", mode: .sync, automatic: false, devices: 2, rate: 1, duration: 1))
        var iterator = changes.makeAsyncIterator()
        for _ in 0..<10 {
            if desk.record(id: started.id)?.state == .failed { break }
            _ = await iterator.next()
        }
        let failed = try #require(desk.record(id: started.id))
        #expect(failed.state == .failed && failed.error == "region us-east is not up")
        #expect(ConsoleHTML.drillsFragment(desk.records).contains("could not run: region us-east is not up"))
    }
}
