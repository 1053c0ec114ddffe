import ArgumentParser
import Foundation
@testable import RelayCtlCommands
@testable import RelayTopology
import Testing

/// A valid two-region topology whose settings files live in memory.
private struct Fixture {
    var topology = Topology(
        regions: [
            .init(name: "a", settings: "regions/a.json", devices: "127.0.0.1:1001", peers: "127.0.0.1:2001", http: "127.0.0.1:3001", standby: "b"),
            .init(name: "b", settings: "regions/b.json", devices: "127.0.0.1:1002", peers: "127.0.0.1:2002", http: "127.0.0.1:3002", standby: "a"),
        ],
        links: [
            .init(between: ["a", "b"], rttMs: 80, bandwidthKbps: 1000, loss: 0, proxies: [
                .init(to: "b", listen: "127.0.0.1:4001", control: "127.0.0.1:5001"),
                .init(to: "a", listen: "127.0.0.1:4002", control: "127.0.0.1:5002"),
            ]),
        ]
    )
    var files: [String: String] = [
        "regions/a.json": #"{"name": "a", "mqtt": "127.0.0.1:1001", "redis": "127.0.0.1:6001", "nodes": 1}"#,
        "regions/b.json": #"{"name": "b", "mqtt": "127.0.0.1:1002", "redis": "127.0.0.1:6002"}"#,
    ]

    func problems() -> [TopologyProblem] {
        TopologyCheck.check(topology) { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return Data(text.utf8)
        }
    }

    func kinds() -> [TopologyProblem.Kind] { problems().map(\.kind) }
}

@Suite struct TopologyCheckTests {
    @Test func fixtureIsValid() {
        #expect(Fixture().problems() == [])
    }

    @Test func shippedTopologyIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let (topology, problems) = TopologyCheck.check(path: root.appendingPathComponent("topology.json").path)
        #expect(problems == [])
        #expect(topology?.regions.map(\.name) == ["us-east", "eu-west", "ap-south"])
        #expect(topology?.links.count == 3)
    }

    @Test func automaticFailoverNeedsThreeRegionsSaneTimingsAndKnownFailbacks() throws {
        var fixture = Fixture()
        fixture.topology.failover = .init(automatic: true, unreachableAfterMs: 2000)
        #expect(fixture.kinds() == [.badFailover])
        #expect(fixture.problems()[0].message.contains("at least 3 regions"))
        fixture.topology.failover = .init(automatic: false, unreachableAfterMs: 2000)
        #expect(fixture.problems() == [])
        // Three regions: valid; then too short for an 80 ms link, a bad value, an unknown failback.
        fixture.topology.regions.append(.init(name: "c", settings: "regions/c.json", devices: "127.0.0.1:1003", peers: "127.0.0.1:2003", http: "127.0.0.1:3003", standby: "a", failback: "manual"))
        fixture.files["regions/c.json"] = #"{"name": "c", "mqtt": "127.0.0.1:1003", "redis": "127.0.0.1:6003"}"#
        for pair in [["a", "c"], ["b", "c"]] {
            fixture.topology.links.append(.init(between: pair, rttMs: 80, bandwidthKbps: 1000, loss: 0, proxies: [
                .init(to: pair[0], listen: "127.0.0.1:\(4100 + fixture.topology.links.count * 2)", control: "127.0.0.1:\(5100 + fixture.topology.links.count * 2)"),
                .init(to: pair[1], listen: "127.0.0.1:\(4101 + fixture.topology.links.count * 2)", control: "127.0.0.1:\(5101 + fixture.topology.links.count * 2)"),
            ]))
        }
        fixture.topology.failover = .init(automatic: true, unreachableAfterMs: 2000)
        #expect(fixture.problems() == [])
        let configuration = try #require(fixture.topology.watchConfiguration)
        #expect(configuration.unreachableAfter == 2000 && configuration.manualFailback == ["c"])
        fixture.topology.failover = .init(automatic: true, unreachableAfterMs: 120)
        #expect(fixture.kinds() == [.badFailover])
        #expect(fixture.problems()[0].message.contains("too short for a link of 80.0 ms"))
        fixture.topology.failover = .init(automatic: true, unreachableAfterMs: 50)
        #expect(fixture.kinds() == [.badFailover, .badFailover])
        fixture.topology.failover = .init(automatic: true, unreachableAfterMs: 2000)
        fixture.topology.regions[2].failback = "sometimes"
        #expect(fixture.kinds() == [.badFailover])
        // Decoding: an empty object is automatic at 2 s; no object, no watch.
        let decoded = try JSONDecoder().decode(Topology.self, from: Data(#"{"regions": [], "links": [], "failover": {}}"#.utf8))
        #expect(decoded.failover == .init(automatic: true, unreachableAfterMs: 2000))
        #expect(try JSONDecoder().decode(Topology.self, from: Data(#"{"regions": []}"#.utf8)).watchConfiguration == nil)
    }

    @Test func unknownStandby() {
        var fixture = Fixture()
        fixture.topology.regions[0].standby = "nowhere"
        #expect(fixture.kinds() == [.unknownStandby])
        #expect(fixture.problems()[0].message.contains("\"nowhere\" is not a region"))
    }

    @Test func ownStandby() {
        var fixture = Fixture()
        fixture.topology.regions[1].standby = "b"
        #expect(fixture.kinds() == [.selfStandby])
    }

    @Test func duplicatePortsAcrossEndpointsProxiesAndSettings() {
        var fixture = Fixture()
        fixture.topology.regions[1].http = "127.0.0.1:2001"          // a's peers
        fixture.topology.links[0].proxies[0].control = "0.0.0.0:6002" // b's redis, via a wildcard host
        #expect(fixture.kinds() == [.duplicatePort, .duplicatePort])
        #expect(fixture.problems()[0].message.contains("port 2001 is used twice"))
    }

    @Test func extraNodesTakeTheNextPorts() {
        var fixture = Fixture()
        fixture.topology.regions[0].nodes = 2
        fixture.files["regions/a.json"] = #"{"name": "a", "mqtt": "127.0.0.1:1001", "redis": "127.0.0.1:6001", "nodes": 2}"#
        // Node 1 of a: peers on 2002 (b's peers), http on 3002 (b's http), devices on 1002 (b's devices).
        #expect(fixture.kinds() == [.duplicatePort, .duplicatePort, .duplicatePort])
        #expect(fixture.problems().map(\.message).joined().contains("region a node 1 peers"))
        // Spread out, the two nodes are valid.
        fixture.topology.regions[0].devices = "127.0.0.1:1101"
        fixture.topology.regions[0].peers = "127.0.0.1:2101"
        fixture.topology.regions[0].http = "127.0.0.1:3101"
        fixture.files["regions/a.json"] = #"{"name": "a", "mqtt": "127.0.0.1:1101", "redis": "127.0.0.1:6001", "nodes": 2}"#
        #expect(fixture.problems() == [])
        // Without "nodes" in the settings, the topology's count is the region's.
        fixture.files["regions/a.json"] = #"{"name": "a", "mqtt": "127.0.0.1:1101", "redis": "127.0.0.1:6001"}"#
        #expect(fixture.problems() == [])
        // Node 1's devices port is taken from the topology's count too: 1102 against b's devices.
        fixture.topology.regions[1].devices = "127.0.0.1:1102"
        fixture.files["regions/b.json"] = #"{"name": "b", "mqtt": "127.0.0.1:1102", "redis": "127.0.0.1:6002"}"#
        #expect(fixture.kinds() == [.duplicatePort])
        #expect(fixture.problems()[0].message.contains("port 1102 is used twice"))
    }

    @Test func nodesAreListedInTheTopologyAndAgreeWithTheSettings() {
        var fixture = Fixture()
        fixture.topology.regions[0].devices = "127.0.0.1:1101"
        fixture.topology.regions[0].peers = "127.0.0.1:2101"
        fixture.topology.regions[0].http = "127.0.0.1:3101"
        // Settings with 2 nodes, topology without: other regions would not know node 1.
        fixture.files["regions/a.json"] = #"{"name": "a", "mqtt": "127.0.0.1:1101", "redis": "127.0.0.1:6001", "nodes": 2}"#
        #expect(fixture.kinds() == [.badSettings])
        #expect(fixture.problems()[0].message.contains(#"add "nodes": 2 to region a's entry"#))
        // Both given, different.
        fixture.topology.regions[0].nodes = 3
        #expect(fixture.kinds() == [.badSettings])
        #expect(fixture.problems()[0].message.contains("make them equal"))
        // Out of range in the topology.
        fixture.files["regions/a.json"] = #"{"name": "a", "mqtt": "127.0.0.1:1101", "redis": "127.0.0.1:6001"}"#
        fixture.topology.regions[0].nodes = 0
        #expect(fixture.kinds() == [.badSettings])
        fixture.topology.regions[0].nodes = 65
        #expect(fixture.kinds() == [.badSettings])
        // Node ports past 65535.
        fixture.topology.regions[0].nodes = 2
        fixture.topology.regions[0].http = "127.0.0.1:65535"
        #expect(fixture.kinds() == [.badAddress])
        // Decoding: absent is one node; node i is i ports on.
        let region = Topology.Region(name: "x", settings: "", devices: "h:100", peers: "h:200", http: "h:300", standby: nil)
        #expect(region.nodeCount == 1)
        #expect(region.address(region.peers, node: 3)?.description == "h:203")
    }

    @Test func missingLink() {
        var fixture = Fixture()
        fixture.topology.regions.append(.init(name: "c", settings: "regions/c.json", devices: "127.0.0.1:1003", peers: "127.0.0.1:2003", http: "127.0.0.1:3003", standby: nil))
        fixture.files["regions/c.json"] = #"{"name": "c", "mqtt": "127.0.0.1:1003", "redis": "127.0.0.1:6003"}"#
        #expect(fixture.kinds() == [.missingLink, .missingLink])
        #expect(fixture.problems().map(\.message).allSatisfy { $0.hasPrefix("no link between") })
    }

    @Test func linkProblems() {
        var fixture = Fixture()
        fixture.topology.links[0].loss = 1.5
        fixture.topology.links[0].bandwidthKbps = 0
        fixture.topology.links[0].proxies.removeLast()
        fixture.topology.links.append(fixture.topology.links[0])
        fixture.topology.links[1].proxies = []
        let kinds = fixture.kinds()
        #expect(kinds.filter { $0 == .badLink }.count == 4)
        #expect(kinds.contains(.duplicateLink))
        #expect(kinds.filter { $0 == .badProxy }.count == 3)
    }

    @Test func unreadableAndInvalidSettings() {
        var fixture = Fixture()
        fixture.files["regions/a.json"] = nil
        fixture.files["regions/b.json"] = "{ not json"
        let problems = fixture.problems()
        #expect(problems.map(\.kind) == [.badSettings, .badSettings])
        #expect(problems[0].message.contains("cannot be read"))
        #expect(problems[1].message.contains("not a JSON object"))
    }

    @Test func settingsThatDisagreeWithTheTopology() {
        var fixture = Fixture()
        fixture.files["regions/b.json"] = #"{"name": "x", "mqtt": "127.0.0.1:1009", "redis": "nope", "sendBurst": "many"}"#
        let kinds = fixture.kinds()
        #expect(kinds.filter { $0 == .badSettings }.count == 3) // name, sendBurst, mqtt vs devices
        #expect(kinds.contains(.badAddress))                   // redis
    }

    @Test func badAddresses() {
        var fixture = Fixture()
        fixture.topology.regions[0].peers = "127.0.0.1"
        fixture.topology.regions[1].http = "127.0.0.1:70000"
        fixture.topology.links[0].proxies[0].listen = ""
        #expect(fixture.kinds() == [.badAddress, .badAddress, .missingField])
    }

    @Test func everyProblemInOneRun() {
        var fixture = Fixture()
        fixture.topology.regions[0].standby = "a"
        fixture.topology.regions[1].standby = "zz"
        fixture.topology.regions[1].peers = "127.0.0.1:2001"
        fixture.topology.links = []
        #expect(Set(fixture.kinds()) == [.selfStandby, .unknownStandby, .duplicatePort, .missingLink])
    }

    @Test func fileThatIsNotJSONIsOneProblem() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("topology-\(UUID().uuidString).json").path
        try Data("{\"regions\": 3}".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (topology, problems) = TopologyCheck.check(path: path)
        #expect(topology == nil)
        #expect(problems.map(\.kind) == [.unreadable])
    }
}

@Suite struct RelayCtlTopologyCheckTests {
    @Test func exitsOneWhenTheFileHasProblemsAndZeroWhenValid() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("topology-\(UUID().uuidString).json").path
        try Data(#"{"regions": [{"name": "a", "settings": "missing.json", "devices": "127.0.0.1:1", "peers": "127.0.0.1:2", "http": "127.0.0.1:3", "standby": "a"}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bad = try RelayCtlCommand.parseAsRoot(["topology", "check", "--file", path]) as! any AsyncParsableCommand
        await #expect(throws: ExitCode(1)) { try await bad.run() }

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var good = try RelayCtlCommand.parseAsRoot(["topology", "check", "--file", root.appendingPathComponent("topology.json").path]) as! any AsyncParsableCommand
        try await good.run()
    }
}
