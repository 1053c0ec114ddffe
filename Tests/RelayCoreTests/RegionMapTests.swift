import Testing

@testable import RelayCore

@Suite struct RegionMapTests {
    let standbys: [String: String?] = ["us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west", "solo": nil]

    func map(_ local: String = "eu-west") -> RegionMap { RegionMap(local: local, standbys: standbys) }

    @Test func everyRegionServesItselfAtTermOne() {
        let m = map()
        #expect(m.peers == ["ap-south", "solo", "us-east"])
        for region in m.regions {
            #expect(m.servingRegion(of: region) == region)
            #expect(m.term(of: region) == 1)
        }
        #expect(m.servesHere("eu-west"))
        #expect(!m.servesHere("us-east"))
    }

    @Test func failoverMovesServingToTheStandbyUnderAHigherTerm() throws {
        var m = map()
        let state = try #require(m.failover("us-east"))
        #expect(state == RegionMap.State(term: 2, servedBy: "eu-west"))
        #expect(m.merge(["us-east": state]) == ["us-east"])
        #expect(m.servesHere("us-east"))
        #expect(m.term(of: "us-east") == 2)
        // Failing over twice, or a region without standby, is refused.
        #expect(m.failover("us-east") == nil)
        #expect(m.failover("solo") == nil)
    }

    @Test func failbackFencesThenResumes() throws {
        var m = map()
        m.merge(["us-east": try #require(m.failover("us-east"))])
        let fence = try #require(m.failbackFence("us-east"))
        m.merge(["us-east": fence])
        #expect(m.servingRegion(of: "us-east") == nil)
        #expect(!m.servesHere("us-east"))
        #expect(m.deliveryRegion(of: "us-east") == "us-east")
        #expect(m.failbackFence("us-east") == nil)
        let resume = try #require(m.failbackResume("us-east"))
        m.merge(["us-east": resume])
        #expect(m.state(of: "us-east") == RegionMap.State(term: 4, servedBy: "us-east"))
        #expect(m.failbackResume("us-east") == nil)
    }

    @Test func mergeKeepsTheHigherTermWhateverTheOrder() {
        var a = map(), b = map()
        let failedOver = RegionMap.State(term: 2, servedBy: "eu-west")
        let fenced = RegionMap.State(term: 3, servedBy: "us-east", fenced: true)
        a.merge(["us-east": failedOver]); a.merge(["us-east": fenced])
        b.merge(["us-east": fenced]); b.merge(["us-east": failedOver])
        #expect(a == b)
        #expect(a.state(of: "us-east") == fenced)
        // An equal term changes nothing.
        #expect(a.merge(["us-east": RegionMap.State(term: 3, servedBy: "ap-south")]).isEmpty)
    }

    @Test func mirrorTargets() {
        var m = map("eu-west")
        #expect(m.mirrorTarget(forHome: "eu-west") == "us-east")
        m.merge(["us-east": RegionMap.State(term: 2, servedBy: "eu-west")])
        // Serving us-east's devices, eu-west mirrors their queues back to us-east.
        #expect(m.mirrorTarget(forHome: "us-east") == "us-east")
        #expect(map("solo").mirrorTarget(forHome: "solo") == nil)
    }

    @Test func audienceGroupsUsersByDeliveringRegion() {
        var m = map("ap-south")
        m.merge(["us-east": RegionMap.State(term: 2, servedBy: "eu-west")])
        let plan = m.audience(["alice": "us-east", "bob": "eu-west", "carol": "ap-south", "dave": "us-east"])
        #expect(plan == ["eu-west": ["alice", "bob", "dave"], "ap-south": ["carol"]])
    }

    @Test func usersNotInTheDirectoryGoToEveryRegion() {
        let m = map("ap-south")
        let plan = m.audience(of: ["alice", "zoe", "bob"], homes: ["alice": "us-east", "bob": "eu-west", "carol": "ap-south"])
        #expect(plan == ["us-east": ["alice", "zoe"], "eu-west": ["bob", "zoe"], "ap-south": ["zoe"], "solo": ["zoe"]])
    }

    @Test func aStoredCopyIsPassedOnOnlyWhereTheSenderCouldNotHaveSentIt() throws {
        // eu-west stores us-east's copy naming carol (home ap-south): us-east
        // did not know carol's home (no term) or knew ap-south's current term,
        // so it shipped to ap-south itself. A second copy from eu-west could
        // reach ap-south first and carry a later message past an earlier one.
        var m = map("eu-west")
        #expect(m.onwardTarget(forHome: "ap-south", senderTerm: nil, origin: "us-east") == nil)
        #expect(m.onwardTarget(forHome: "ap-south", senderTerm: 1, origin: "us-east") == nil)
        // Its own users: their mirror (us-east) is the sender here, so nowhere.
        #expect(m.onwardTarget(forHome: "eu-west", senderTerm: 1, origin: "us-east") == nil)
        #expect(m.onwardTarget(forHome: "eu-west", senderTerm: 1, origin: "ap-south") == "us-east")
        // Serving us-east after a failover: us-east's users' queues are mirrored back to it.
        m.merge(["us-east": try #require(m.failover("us-east"))])
        #expect(m.onwardTarget(forHome: "us-east", senderTerm: 2, origin: "ap-south") == "us-east")
        // A failback fenced us-east after ap-south shipped under term 2: on to us-east.
        m.merge(["us-east": try #require(m.failbackFence("us-east"))])
        #expect(m.onwardTarget(forHome: "us-east", senderTerm: 2, origin: "ap-south") == "us-east")
        #expect(m.onwardTarget(forHome: "us-east", senderTerm: 3, origin: "ap-south") == nil)
        #expect(m.terms(ofHomes: ["us-east", "ap-south", "us-east"]) == ["us-east": 3, "ap-south": 1])
    }

    @Test func storedAndWireFormsRoundTrip() throws {
        let state = RegionMap.State(term: 7, servedBy: "eu-west", fenced: true)
        #expect(RegionMap.State(stored: state.stored) == state)
        #expect(RegionMap.State(state.message(region: "us-east")) == state)
        #expect(RegionMap.State(stored: "x|eu-west|0") == nil)
        #expect(RegionMap.State(stored: "3||0") == nil)
    }
}
