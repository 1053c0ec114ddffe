import RelayCore
import Testing
@testable import RelayMedia

/// Where blob copies go and when an upload waits for its copy.
@Suite struct MirrorPlanTests {
    let standbys: [String: String?] = ["us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west"]

    func map(_ local: String, _ states: [String: RegionMap.State] = [:]) -> RegionMap {
        var map = RegionMap(local: local, standbys: standbys)
        map.merge(states)
        return map
    }

    @Test func aRegionsOwnBlobsGoToItsStandby() {
        #expect(MirrorPlan.target(home: "us-east", map: map("us-east")) == "eu-west")
        #expect(MirrorPlan.target(home: "ap-south", map: map("ap-south")) == "eu-west")
    }

    @Test func noCopyGoesToAStandbyThatIsFailedOver() {
        let failed = map("us-east", ["eu-west": .init(term: 2, servedBy: "us-east")])
        #expect(MirrorPlan.target(home: "us-east", map: failed) == nil)
        #expect(!MirrorPlan.waits(home: "us-east", map: failed, sync: true))
    }

    @Test func blobsUploadedForAFailedOverHomeGoBackOnlyOnceItServesItselfAgain() {
        let failedOver = map("eu-west", ["us-east": .init(term: 2, servedBy: "eu-west")])
        #expect(MirrorPlan.target(home: "us-east", map: failedOver) == nil)
        let fenced = map("eu-west", ["us-east": .init(term: 3, servedBy: "us-east", fenced: true)])
        #expect(MirrorPlan.target(home: "us-east", map: fenced) == nil)
        let failedBack = map("eu-west", ["us-east": .init(term: 4, servedBy: "us-east")])
        #expect(MirrorPlan.target(home: "us-east", map: failedBack) == "us-east")
        // Copied back asynchronously: the upload never waited for a region that was down.
        #expect(!MirrorPlan.waits(home: "us-east", map: failedOver, sync: true))
    }

    @Test func onlySyncModeWaitsAndOnlyForTheRegionsOwnUsers() {
        #expect(MirrorPlan.waits(home: "us-east", map: map("us-east"), sync: true))
        #expect(!MirrorPlan.waits(home: "us-east", map: map("us-east"), sync: false))
        let noStandby = RegionMap(local: "solo", standbys: ["solo": nil])
        #expect(MirrorPlan.target(home: "solo", map: noStandby) == nil)
        #expect(!MirrorPlan.waits(home: "solo", map: noStandby, sync: true))
    }

    @Test func theWaitGrowsWithTheBlob() {
        #expect(MirrorPlan.deadline(length: 0) == .seconds(5))
        #expect(MirrorPlan.deadline(length: 100 * 1024 * 1024) == .seconds(30))
        #expect(MirrorPlan.deadline(length: .max) > .seconds(1_000_000))
    }
}
