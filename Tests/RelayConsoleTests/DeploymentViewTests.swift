import Foundation
@testable import RelayConsole
import RelayCore
@testable import RelayLinkEmulator
@testable import RelayTopology
import Testing

@Suite struct DeploymentViewTests {
    static let topology: Topology = {
        func region(_ name: String, _ port: Int, standby: String) -> Topology.Region {
            Topology.Region(name: name, settings: "regions/\(name).json", devices: "127.0.0.1:\(port)", peers: "127.0.0.1:\(port + 1)",
                            http: "127.0.0.1:\(port + 2)", standby: standby)
        }
        func link(_ a: String, _ b: String, rtt: Double, _ base: Int) -> Topology.Link {
            Topology.Link(between: [a, b], rttMs: rtt, bandwidthKbps: 100_000, loss: 0, proxies: [
                .init(to: b, listen: "127.0.0.1:\(base)", control: "127.0.0.1:\(base + 100)"),
                .init(to: a, listen: "127.0.0.1:\(base + 1)", control: "127.0.0.1:\(base + 101)"),
            ])
        }
        return Topology(
            regions: [region("us-east", 1000, standby: "eu-west"), region("eu-west", 2000, standby: "us-east"), region("ap-south", 3000, standby: "eu-west")],
            links: [link("us-east", "eu-west", rtt: 80, 7001), link("us-east", "ap-south", rtt: 200, 7003), link("eu-west", "ap-south", rtt: 120, 7005)])
    }()

    static func status(cut: Bool, rtt: Double) -> LinkStatus {
        LinkStatus(listen: "", to: "", cut: cut, rttMs: rtt, bandwidthKbps: 100_000, loss: 0, openChannels: 2, accepted: 1, refused: 0, forwardedBytes: 10)
    }

    static let usEastMetrics = """
        # TYPE relay_sessions gauge
        relay_sessions{protocol="5.0"} 3
        relay_sessions{protocol="3.1.1"} 1
        relay_sends_accepted_total 150
        relay_replication_lag_seconds{peer="eu-west"} 0.25
        relay_replication_outbox_frames{peer="eu-west"} 12
        relay_replication_lag_seconds{peer="ap-south"} 0
        relay_replication_outbox_frames{peer="ap-south"} 0
        relay_region_lease_held 1

        """

    @Test func regionsLinksLagAndRatesFromTheAnswers() {
        var map = RegionMap(local: "us-east", standbys: Self.topology.standbys)
        _ = map.merge(["ap-south": .init(term: 3, servedBy: "eu-west")])
        var previous = DeploymentView.Counters()
        previous.sends["us-east"] = (total: 100, atMs: 1000)
        let proxies: [String: LinkStatus?] = [
            "127.0.0.1:7101": Self.status(cut: false, rtt: 80), "127.0.0.1:7102": Self.status(cut: true, rtt: 80),
            "127.0.0.1:7103": nil, "127.0.0.1:7104": Self.status(cut: false, rtt: 250),
        ]
        let (view, counters) = DeploymentView.build(
            topology: Self.topology,
            readings: [
                "us-east": .init(metrics: Self.usEastMetrics, readiness: #"{"ready":true,"checks":{}}"#),
                "eu-west": .init(metrics: "relay_sends_accepted_total 7\n", readiness: #"{"ready":false,"checks":{}}"#),
                "ap-south": .init(metrics: nil, readiness: nil),
            ],
            map: map,
            proxies: proxies,
            previous: previous, nowMs: 3000)

        #expect(view.regions.map(\.name) == ["us-east", "eu-west", "ap-south"])
        let usEast = view.regions[0], euWest = view.regions[1], apSouth = view.regions[2]
        #expect(usEast.up && usEast.ready == true && usEast.sessions == 4 && usEast.leaseHeld == true)
        #expect(usEast.sendsPerSecond == 25)  // 50 sends in 2 s
        #expect(euWest.up && euWest.ready == false && euWest.sendsPerSecond == nil)
        #expect(!apSouth.up && apSouth.ready == nil && apSouth.servedBy == "eu-west" && apSouth.term == 3)
        #expect(counters.sends["us-east"]?.total == 150 && counters.sends["eu-west"]?.total == 7 && counters.sends["ap-south"] == nil)

        let usEu = view.links[0]
        #expect(usEu.state == .cut && usEu.rttMs == 80)
        #expect(usEu.directions.map(\.from) == ["us-east", "eu-west"])
        #expect(usEu.directions[0].lagMs == 250 && usEu.directions[0].outboxFrames == 12)
        // eu-west answered and reports no outbox to us-east: nothing waits.
        #expect(usEu.directions[1].lagMs == 0 && usEu.directions[1].outboxFrames == 0)
        let usAp = view.links[1]
        #expect(usAp.state == .healed && usAp.currentRttMs == 250)
        // ap-south did not answer: its direction is unknown.
        #expect(usAp.directions[1].lagMs == nil && usAp.directions[1].outboxFrames == nil)
        #expect(view.links[2].state == .unknown)
    }

    @Test func withoutAnyAnswerEverythingIsUnknownAndNothingTraps() {
        let (view, counters) = DeploymentView.build(topology: Self.topology, readings: [:], map: nil, proxies: [:],
                                                    previous: .init(), nowMs: 0)
        #expect(view.regions.allSatisfy { !$0.up && $0.term == 0 && $0.servedBy == $0.name && $0.sessions == nil })
        #expect(view.links.allSatisfy { $0.state == .unknown && $0.directions.allSatisfy { $0.lagMs == nil } })
        #expect(counters == .init())
    }

    @Test func aCounterThatWentBackwardsGivesNoRate() {
        var previous = DeploymentView.Counters()
        previous.sends["eu-west"] = (total: 500, atMs: 1000)
        let (view, _) = DeploymentView.build(topology: Self.topology, readings: ["eu-west": .init(metrics: "relay_sends_accepted_total 3\n", readiness: "garbage")],
                                             map: nil, proxies: [:], previous: previous, nowMs: 2000)
        #expect(view.regions[1].sendsPerSecond == nil && view.regions[1].ready == nil)
    }

    @Test func theFragmentShowsThreeRegionsTheirLinksAndACutLink() {
        let (view, _) = DeploymentView.build(
            topology: Self.topology, readings: ["us-east": .init(metrics: Self.usEastMetrics, readiness: nil)], map: nil,
            proxies: ["127.0.0.1:7101": .some(Self.status(cut: true, rtt: 80))], previous: .init(), nowMs: 0)
        let html = ConsoleHTML.deploymentFragment(view)
        #expect(html.components(separatedBy: "<tr class=\"region\"").count - 1 == 3)
        #expect(html.components(separatedBy: "<tr class=\"link\"").count - 1 == 3)
        #expect(html.contains("data-link=\"us-east|eu-west\" data-state=\"cut\""))
        #expect(html.contains("<line class=\"map-link\" data-link=\"us-east|eu-west\" data-state=\"cut\""))
        #expect(html.contains("250 ms") && html.contains("12 frames"))
    }

    @Test func serverSentEventsCarryEachLineAsData() {
        let event = ConsoleEvents.Event(name: "drills", data: "<p>a</p>\r\n<p>b</p>")
        #expect(event.encoded == "event: drills\ndata: <p>a</p>\ndata: <p>b</p>\n\n")
    }

    @Test func aSubscriberGetsTheLatestEventsThenNewOnes() async {
        let events = ConsoleEvents()
        events.publish(.init(name: "deployment", data: "one"))
        let stream = events.subscribe()
        events.publish(.init(name: "drills", data: "two"))
        events.finish()
        var received: [String] = []
        for await event in stream { received.append(event.data) }
        #expect(received == ["one", "two"])
        #expect(events.subscriberCount == 0)
    }
}
