import Testing

@testable import RelayCore

/// The rules of automatic failover: leases, votes, failover and failback,
/// driven by hand-made heartbeat events and times (ms).
@Suite struct RegionWatchTests {
    static let regions = ["us-east", "eu-west", "ap-south"]
    static let standbys: [String: String?] = ["us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west"]
    let configuration = RegionWatch.Configuration(unreachableAfter: 2000)

    func watch(_ local: String, manual: Set<String> = []) -> RegionWatch {
        var configuration = configuration
        configuration.manualFailback = manual
        return RegionWatch(local: local, regions: Self.regions, configuration: configuration, now: 0)
    }

    func map(_ local: String) -> RegionMap { RegionMap(local: local, standbys: Self.standbys) }

    /// Every peer acknowledges (granting) a heartbeat sent at `now` and reports full contact.
    func allWell(_ w: inout RegionWatch, at now: Int64) {
        for peer in w.peers {
            w.acknowledged(by: peer, sentAt: now, now: now + 100)
            w.heard(from: peer, since: Dictionary(uniqueKeysWithValues: Self.regions.map { ($0, 0) }), now: now + 100)
        }
    }

    @Test func timingsDeriveFromUnreachableAfter() {
        let c = RegionWatch.Configuration(unreachableAfter: 2000)
        #expect(c.lease == 1500 && c.lease < c.unreachableAfter)
        #expect(c.heartbeatInterval == 250)
        #expect(c.voteFreshness == 500)
        #expect(c.failbackAfter == 2000)
        #expect(RegionWatch.Configuration(unreachableAfter: 0).unreachableAfter == 100)
    }

    @Test func leaseNeedsGrantsFromAMajority() {
        var w = watch("us-east")
        #expect(w.majority == 2)
        #expect(!w.holdsLease(now: 0))
        // An acknowledgement without a grant is contact, not lease.
        w.acknowledged(by: "eu-west", sentAt: 100, granted: false, now: 200)
        #expect(!w.holdsLease(now: 200))
        #expect(w.contacts(now: 200)["eu-west"] == 0)
        w.acknowledged(by: "ap-south", sentAt: 100, now: 300)
        #expect(w.holdsLease(now: 300))
        // The lease runs from the send time, not the acknowledgement.
        #expect(w.holdsLease(now: 1599))
        #expect(!w.holdsLease(now: 1600))
        // An older heartbeat acknowledged late does not move it back.
        w.acknowledged(by: "ap-south", sentAt: 50, now: 1600)
        #expect(!w.holdsLease(now: 1600))
        // Five regions: two peers needed.
        var five = RegionWatch(local: "a", regions: ["a", "b", "c", "d", "e"], configuration: configuration, now: 0)
        #expect(five.majority == 3)
        five.acknowledged(by: "b", sentAt: 10, now: 20)
        #expect(!five.holdsLease(now: 20))
        five.acknowledged(by: "c", sentAt: 10, now: 20)
        #expect(five.holdsLease(now: 20))
    }

    @Test func noGrantToARegionHeldUnreachableUntilAFailoverCouldHaveSpread() {
        var w = watch("ap-south")
        allWell(&w, at: 0)
        #expect(w.grants(to: "us-east", now: 500))
        // us-east silent from 100 to 5,000.
        #expect(!w.grants(to: "us-east", now: 2100))
        w.heard(from: "us-east", since: [:], now: 5000)
        #expect(!w.suspects("us-east", now: 5000))
        #expect(!w.grants(to: "us-east", now: 5000))
        w.heard(from: "us-east", since: [:], now: 6000)
        #expect(!w.grants(to: "us-east", now: 6999))
        #expect(w.grants(to: "us-east", now: 7000))
        // Short silences do not matter.
        for t in stride(from: Int64(7000), through: 9000, by: 1000) { w.heard(from: "us-east", since: [:], now: t) }
        #expect(w.grants(to: "us-east", now: 9000))
    }

    @Test func contactsReportHowLongAgoEachPeerWasHeard() {
        var w = watch("eu-west")
        w.heard(from: "us-east", since: [:], now: 500)
        w.acknowledged(by: "ap-south", sentAt: 100, now: 900)
        let contacts = w.contacts(now: 1000)
        #expect(contacts == ["eu-west": 0, "us-east": 500, "ap-south": 100])
        #expect(!w.suspects("us-east", now: 2499))
        #expect(w.suspects("us-east", now: 2500))
        #expect(!w.suspects("eu-west", now: 10_000))
        // Unknown regions are ignored.
        w.heard(from: "mars", since: [:], now: 600)
        #expect(w.contacts(now: 1000)["mars"] == nil)
    }

    @Test func theStandbyFailsARegionOverOnlyWithAMajority() {
        var w = watch("eu-west")
        allWell(&w, at: 0)
        let m = map("eu-west")
        // us-east goes silent at 0. At 2,100 eu-west suspects it, alone: no failover.
        for t in stride(from: Int64(250), through: 2100, by: 250) {
            w.acknowledged(by: "ap-south", sentAt: t, now: t + 100)
            w.heard(from: "ap-south", since: ["us-east": 0, "eu-west": 0, "ap-south": 0], now: t + 100)
        }
        #expect(w.voters(against: "us-east", now: 2200) == ["eu-west"])
        #expect(w.decide(map: m, outboxDepth: [:], now: 2200).isEmpty)
        // ap-south reports it too: failover, to eu-west, under term 2.
        w.heard(from: "ap-south", since: ["us-east": 2100, "eu-west": 0, "ap-south": 0], now: 2300)
        w.acknowledged(by: "ap-south", sentAt: 2250, now: 2300)
        #expect(w.voters(against: "us-east", now: 2300) == ["ap-south", "eu-west"])
        let decisions = w.decide(map: m, outboxDepth: [:], now: 2300)
        #expect(decisions == [.init(kind: .failover, region: "us-east", state: .init(term: 2, servedBy: "eu-west"))])
        // A report older than two heartbeats does not vote.
        #expect(w.voters(against: "us-east", now: 2800) == ["eu-west"])
    }

    @Test func onlyTheStandbyDecidesAndNeverWithoutItsLease() {
        // ap-south is nobody's... it is no one's standby: it never decides.
        var a = RegionWatch(local: "ap-south", regions: Self.regions, configuration: configuration, now: 0)
        a.acknowledged(by: "eu-west", sentAt: 2500, now: 2600)
        a.heard(from: "eu-west", since: ["us-east": 2500], now: 2600)
        #expect(a.voters(against: "us-east", now: 2600) == ["ap-south", "eu-west"])
        #expect(a.decide(map: map("ap-south"), outboxDepth: [:], now: 2600).isEmpty)
        // eu-west cut off from everyone: suspects both, holds no lease, decides nothing.
        var e = watch("eu-west")
        allWell(&e, at: 0)
        #expect(!e.holdsLease(now: 3000))
        #expect(e.decide(map: map("eu-west"), outboxDepth: [:], now: 3000).isEmpty)
    }

    @Test func aRegionCutOffLosesItsLeaseBeforeItsStandbyPromotes() throws {
        // us-east's last heartbeat acknowledged by anyone was sent at 1,000 and
        // received at 1,000 + one-way delay; its peers' silence counts from then.
        var us = watch("us-east")
        allWell(&us, at: 0)
        us.acknowledged(by: "eu-west", sentAt: 1000, now: 1200)
        var eu = watch("eu-west")
        allWell(&eu, at: 0)
        eu.heard(from: "us-east", since: [:], now: 1100)  // the same heartbeat, on arrival
        // From here on nothing crosses us-east's links.
        var lastWritable: Int64 = 0
        for t in stride(from: Int64(1000), through: 6000, by: 10) where us.holdsLease(now: t) {
            lastWritable = t
        }
        var promoted: Int64?
        for t in stride(from: Int64(1100), through: 6000, by: 10) {
            eu.acknowledged(by: "ap-south", sentAt: t, now: t)
            eu.heard(from: "ap-south", since: ["us-east": max(0, t - 1100)], now: t)
            if promoted == nil, !eu.decide(map: map("eu-west"), outboxDepth: [:], now: t).isEmpty { promoted = t }
        }
        let promotedAt = try #require(promoted)
        #expect(lastWritable < 1000 + configuration.lease)
        #expect(promotedAt >= 1100 + configuration.unreachableAfter)
        #expect(lastWritable + (configuration.unreachableAfter - configuration.lease) <= promotedAt)
    }

    @Test func failbackFencesAfterSteadyContactThenResumesWhenTheOutboxIsEmpty() throws {
        var w = watch("eu-west")
        var m = map("eu-west")
        m.merge(["us-east": try #require(m.failover("us-east"))])
        #expect(w.decide(map: m, outboxDepth: [:], now: 0).isEmpty)  // sees itself serving us-east
        allWell(&w, at: 0)
        // Contact since 100; failbackAfter 2,000.
        for t in stride(from: Int64(250), through: 2000, by: 250) { allWell(&w, at: t) }
        #expect(w.decide(map: m, outboxDepth: ["us-east": 5], now: 2000).isEmpty)
        let fence = w.decide(map: m, outboxDepth: ["us-east": 5], now: 2100)
        #expect(fence == [.init(kind: .failbackFence, region: "us-east", state: .init(term: 3, servedBy: "us-east", fenced: true))])
        m.merge(["us-east": fence[0].state])
        // Fenced: waits for the outbox.
        #expect(w.decide(map: m, outboxDepth: ["us-east": 5], now: 2150).isEmpty)
        #expect(w.decide(map: m, outboxDepth: [:], now: 2150).isEmpty)  // depth unknown
        let resume = w.decide(map: m, outboxDepth: ["us-east": 0], now: 2150)
        #expect(resume == [.init(kind: .failbackResume, region: "us-east", state: .init(term: 4, servedBy: "us-east"))])
    }

    @Test func aGapInContactRestartsTheFailbackClock() throws {
        var w = watch("eu-west")
        var m = map("eu-west")
        m.merge(["us-east": try #require(m.failover("us-east"))])
        _ = w.decide(map: m, outboxDepth: [:], now: 0)
        allWell(&w, at: 0)
        allWell(&w, at: 1500)
        // A silence of 1,400 ms (over half of unreachableAfter) between contacts.
        allWell(&w, at: 2900)
        #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: 3100).isEmpty)
        for t in stride(from: Int64(3400), through: 4900, by: 500) { allWell(&w, at: t) }
        #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: 4900).isEmpty)
        #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: 5000).map(\.kind) == [.failbackFence])
    }

    /// An operator's failover of a region this one is still in contact
    /// with is not undone: failback waits for contact that begins after it.
    @Test func aFailoverMadeWhileInContactIsNotHandedBackUntilContactResumes() throws {
        var w = watch("eu-west")
        var m = map("eu-west")
        for t in stride(from: Int64(0), through: 3000, by: 250) { allWell(&w, at: t) }
        m.merge(["us-east": try #require(m.failover("us-east"))])  // relayctl failover at 3,000
        for t in stride(from: Int64(3250), through: 8000, by: 250) {
            allWell(&w, at: t)
            #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: t + 100).isEmpty)
        }
        // us-east goes quiet (killed) and comes back: a new spell, failback after failbackAfter.
        for t in stride(from: Int64(10_000), through: 11_750, by: 250) {
            allWell(&w, at: t)
            #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: t + 100).isEmpty)
        }
        allWell(&w, at: 12_000)
        #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: 12_100).map(\.kind) == [.failbackFence])
    }

    @Test func manualFailbackIsLeftToTheOperator() throws {
        var w = watch("eu-west", manual: ["us-east"])
        var m = map("eu-west")
        m.merge(["us-east": try #require(m.failover("us-east"))])
        for t in stride(from: Int64(0), through: 5000, by: 250) { allWell(&w, at: t) }
        #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: 5100).isEmpty)
        m.merge(["us-east": try #require(m.failbackFence("us-east"))])
        #expect(w.decide(map: m, outboxDepth: ["us-east": 0], now: 5100).isEmpty)
    }

    @Test func aFailedOverRegionTakesOverNoOther() throws {
        var w = watch("eu-west")
        var m = map("eu-west")
        m.merge(["eu-west": try #require(m.failover("eu-west"))])  // eu-west itself served by us-east
        allWell(&w, at: 0)
        w.acknowledged(by: "us-east", sentAt: 2500, now: 2600)
        w.heard(from: "us-east", since: ["ap-south": 2500], now: 2600)
        #expect(w.voters(against: "ap-south", now: 2600).count == 2)
        #expect(w.decide(map: m, outboxDepth: [:], now: 2600).isEmpty)
    }
}
