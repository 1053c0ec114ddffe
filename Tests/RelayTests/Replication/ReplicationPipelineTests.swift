import Foundation
import NIOCore
import RedisTestSupport
import RelayCore
import RelayLinkEmulator
import RelayOps
import RelayReplication
import RelayStore
import RelayTopology
import Testing

/// Layer 3, pipelined links and capped outboxes: real `redis-server`s, real
/// `ReplicationService`s, the link through a delay proxy at the topology's
/// us-east↔eu-west round trip.
extension ReplicationStreamTests {
    static let linkRTT: Double = 80

    /// A delay proxy towards `b`'s peer listener and a topology through it.
    static func delayedLink() async throws -> (Topology, DelayProxy) {
        let bPort = try RedisServerProcess.freeLoopbackPort()
        let proxyPort = try RedisServerProcess.freeLoopbackPort()
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), bPort], proxy: ("b", proxyPort))
        let proxy = try await DelayProxy.start(
            listen: HostPort(host: "127.0.0.1", port: proxyPort), to: HostPort(host: "127.0.0.1", port: bPort), control: nil,
            conditions: LinkConditions(rttMs: linkRTT, bandwidthKbps: 100_000, loss: 0), group: Self.group)
        return (topology, proxy)
    }

    @Test func aDelayedLinkKeepsSeveralBatchesInFlightAndAppliesEveryFrameOnceInOrder() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, loop: loop))
        let (topology, proxy) = try await Self.delayedLink()
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        let ids = try await Self.append(1...2000, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: ids[1999])
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 2000) == "")
        #expect(try await Self.cursor(b, origin: "a") == 2000)
        // The acknowledgement is known before the outbox is trimmed in Redis: wait for the trim.
        let service = a.service!
        let link = try await eventually("the outbox to b trimmed") {
            try await service.links(on: loop).get().first.flatMap { $0.frames == 0 && $0.batchesInFlight == 0 ? $0 : nil }
        }
        #expect(link.peakBatchesInFlight > 1, "stop-and-wait would keep one: \(link)")
        #expect(link.bytes == 0)
        #expect(link.bandwidthDelayProduct != nil && link.windowBytes >= ReplicationWindow.Configuration().minimumBytes)

        await Self.stop(a)
        await Self.stop(b)
        await proxy.close()
    }

    @Test func aBatchRefusedMidWindowIsShippedAgainAndTheBatchesBehindItDoNotStepOverIt() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        // Frame 100 fails once (a passing failure): its batch gets 0x80 while
        // the batches after it are already on the link.
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, failOnceAt: 100, loop: loop))
        let (topology, proxy) = try await Self.delayedLink()
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        let ids = try await Self.append(1...1000, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: ids[999])
        #expect(b.delegate.failures == 1)
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 1000) == "")
        #expect(try await Self.cursor(b, origin: "a") == 1000)

        await Self.stop(a)
        await Self.stop(b)
        await proxy.close()
    }

    @Test func anOutboxAtItsCapBreaksTheLinkWhichShipsNothingUntilReset() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, loop: loop))
        let (topology, proxy) = try await Self.delayedLink()
        try await Self.start(a, topology: topology, cap: OutboxCap(maximumFrames: 50, maximumBytes: 1_000_000))
        try await Self.start(b, topology: topology)
        let service = a.service!

        _ = try await Self.append(1...10, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: 10)

        // The peer is unreachable: the outbox fills up to its cap...
        _ = await proxy.apply(.cut)
        _ = try await eventually("A sees the link down") {
            try await service.links(on: loop).get().first?.connected == false ? true : nil
        }
        _ = try await Self.append(11...50, from: a, to: "b")
        var status = try await service.outbox.status(peer: "b", on: loop).get()
        #expect(status.broken == nil && status.depth == 40 && status.bytes > 0)
        // ...and past it: the link breaks, the frames held are discarded.
        let past = try await Self.append(51...70, from: a, to: "b")
        #expect(past == Array(51...70), "appends still get their ids")
        status = try await service.outbox.status(peer: "b", on: loop).get()
        let broken = try #require(status.broken)
        #expect(broken.frames == 40 && broken.acknowledged == 10 && broken.discarded == 60 && broken.bytes > 0)
        #expect(status.depth == 0 && status.bytes == 0)
        let xlen = try await a.client.send(RedisCommand("XLEN", ReplicationKey.stream("b")), on: loop).get().int
        #expect(xlen == 0, "the memory is given back")
        _ = try await Self.append(71...75, from: a, to: "b")
        #expect(try await service.outbox.status(peer: "b", on: loop).get().broken?.discarded == 65)

        // What the operator sees.
        let readiness = try await ReplicationReadiness(service: service).check(on: loop).get()
        #expect(readiness.ready, "the region still serves its devices")
        #expect(readiness.detail.contains("BROKEN at the outbox cap"), "\(readiness.detail)")
        #expect(readiness.detail.contains("relayctl outbox reset --region a --peer b"))
        // A sync-mode wait fails at once instead of timing out.
        await #expect(throws: ReplicationError.self) {
            try await Self.waitAcknowledged(a, peer: "b", id: 75, timeout: .seconds(30))
        }

        // The peer is back: the link connects (gossip) but ships nothing.
        _ = await proxy.apply(.heal)
        _ = try await eventually("A reconnects to B") {
            try await service.links(on: loop).get().first?.connected == true ? true : nil
        }
        await #expect(throws: ReplicationError.self) {
            try await Self.waitAcknowledged(a, peer: "b", id: 75, timeout: .milliseconds(500))
        }
        #expect(b.delegate.applied(from: "a") == Array(1...10))
        #expect(try await Self.cursor(b, origin: "a") == 10)

        // The operator resets the link: the discarded frames are given up,
        // the next frames are shipped, and B passes over the gap.
        let reset = try await service.outbox.reset(peer: "b", on: loop).get()
        #expect(reset == OutboxReset(wasBroken: true, resumesAfter: 75, discarded: 65))
        let again = try await service.outbox.reset(peer: "b", on: loop).get()
        #expect(!again.wasBroken)
        _ = try await eventually("the link is no longer shown broken") {
            try await ReplicationReadiness(service: service).check(on: loop).get().detail.contains("BROKEN") ? nil : true
        }
        let next = try await Self.append(76...80, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: next[4])
        #expect(b.delegate.applied(from: "a") == Array(1...10) + Array(76...80))
        #expect(try await Self.cursor(b, origin: "a") == 80)

        await Self.stop(a)
        await Self.stop(b)
        await proxy.close()
    }
}
