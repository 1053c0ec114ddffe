import Foundation
@testable import RelayOps
import RelayStore
@testable import RelayTopology
import Testing

/// `redisCluster` in a region's settings: what `relay serve` makes of it and
/// what `relayctl topology check` says about it.
@Suite struct RegionClusterSettingsTests {
    private let topology = Topology(
        regions: [.init(name: "a", settings: "regions/a.json", devices: "127.0.0.1:1001", peers: "127.0.0.1:2001", http: "127.0.0.1:3001", standby: nil)],
        links: []
    )

    private func problems(_ settings: String) -> [TopologyProblem] {
        TopologyCheck.check(self.topology) { _ in Data(settings.utf8) }
    }

    private func settings(_ json: String) throws -> RegionSettings {
        try JSONDecoder().decode(RegionSettings.self, from: Data(json.utf8))
    }

    @Test func aClusterRegionIsValid() {
        #expect(self.problems(#"{"name": "a", "mqtt": "127.0.0.1:1001", "redisCluster": ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]}"#) == [])
    }

    @Test func clusterNodesAreCheckedAndTakeTheirPorts() {
        let bad = self.problems(#"{"name": "a", "mqtt": "127.0.0.1:1001", "redisCluster": ["127.0.0.1:7000", "nohost", "127.0.0.1:3001"]}"#)
        #expect(bad.map(\.kind) == [.badAddress, .duplicatePort])
        #expect(bad[0].message.contains("\"nohost\""))
        #expect(bad[1].message.contains("port 3001 is used twice"))
        for value in [#"[]"#, #""127.0.0.1:7000""#, #"[7000]"#] {
            let problems = self.problems(#"{"name": "a", "mqtt": "127.0.0.1:1001", "redisCluster": \#(value)}"#)
            #expect(problems.map(\.kind) == [.badSettings], "\(value)")
        }
    }

    @Test func serveMakesAClusterClientConfiguration() throws {
        let cluster = try self.settings(#"{"name": "a", "redisCluster": ["127.0.0.1:7000", "[::1]:7001"]}"#)
        let configuration = try cluster.redisConfiguration()
        #expect(configuration.isCluster)
        #expect(configuration.clusterSeeds == [RedisNodeAddress(host: "127.0.0.1", port: 7000), RedisNodeAddress(host: "::1", port: 7001)].compactMap { $0 })
        #expect(configuration.host == "127.0.0.1" && configuration.port == 7000)

        let single = try self.settings(#"{"name": "a", "redis": "127.0.0.1:6390"}"#).redisConfiguration()
        #expect(!single.isCluster)
        #expect(single.port == 6390)

        #expect(throws: RelayCtlError.self) { try self.settings(#"{"redisCluster": []}"#).redisConfiguration() }
        #expect(throws: RelayCtlError.self) { try self.settings(#"{"redisCluster": ["h:1", "h:1"]}"#).redisConfiguration() }
        #expect(throws: RelayCtlError.self) { try self.settings(#"{"redisCluster": ["h"]}"#).redisConfiguration() }
    }
}
