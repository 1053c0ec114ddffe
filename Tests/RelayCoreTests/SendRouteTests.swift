import Testing

@testable import RelayCore

/// Where a send goes across regions, and which standby copy sync mode adds.
@Suite struct SendRouteTests {
    let standbys: [String: String?] = ["us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west"]

    func route(from local: String, home: String?, group: Bool = false, sync: Bool = false, map edit: (inout RegionMap) -> Void = { _ in }) -> SendRoute {
        var map = RegionMap(local: local, standbys: standbys)
        edit(&map)
        return SendRoute.of(user: "alice", conversation: group ? "gabc" : "alice~bob", isGroup: group, home: home, map: map, sync: sync)
    }

    @Test func aConversationHomedHereIsSequencedHere() {
        #expect(route(from: "us-east", home: "us-east") == .sequenceHere(home: "us-east"))
        #expect(route(from: "us-east", home: "us-east", sync: true) == .sequenceHere(home: "us-east"))
    }

    @Test func elsewhereItIsForwardedWithAStandbyCopyOnlyInSyncMode() {
        #expect(route(from: "us-east", home: "ap-south") == .forward(to: "ap-south", standbyCopy: nil))
        #expect(route(from: "us-east", home: "ap-south", sync: true) == .forward(to: "ap-south", standbyCopy: "eu-west"))
        // The standby is the home itself: the forwarded frame is the copy.
        #expect(route(from: "us-east", home: "eu-west", sync: true) == .forward(to: "eu-west", standbyCopy: nil))
    }

    @Test func aFailedOverHomeIsServedByItsStandby() throws {
        let failedOver = route(from: "ap-south", home: "us-east", sync: true) { map in
            map.merge(["us-east": map.failover("us-east")!])
        }
        // eu-west serves us-east now; ap-south's standby is eu-west too: no second copy.
        #expect(failedOver == .forward(to: "eu-west", standbyCopy: nil))
        let taken = route(from: "eu-west", home: "us-east") { map in map.merge(["us-east": map.failover("us-east")!]) }
        #expect(taken == .sequenceHere(home: "us-east"))
    }

    @Test func refusals() {
        #expect(route(from: "us-east", home: nil, group: true) == .refuse(code: .notMember, message: "alice is not in gabc"))
        guard case .refuse(.notFound, _) = route(from: "us-east", home: nil) else {
            Issue.record("an unknown 1:1 is not_found")
            return
        }
        let fenced = route(from: "ap-south", home: "us-east") { map in
            map.merge(["us-east": map.failover("us-east")!])
            map.merge(["us-east": map.failbackFence("us-east")!])
        }
        guard case .refuse(.unavailable, _) = fenced else {
            Issue.record("a fenced home is unavailable, got \(fenced)")
            return
        }
    }
}
