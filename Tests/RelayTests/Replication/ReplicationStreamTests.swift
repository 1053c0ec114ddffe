import Foundation
import Logging
import Mosquitto
import NIOCore
import NIOPosix
import RedisTestSupport
import RelayClient
import RelayCore
import RelayLinkEmulator
import RelayOps
import RelayReplication
import RelayStore
import RelayTopology
import Synchronization
import Testing

/// Records what the transport hands the chat side. A frame's `term` is its
/// number in these tests. Optionally holds one frame back until released,
/// to stop a stream at a known point.
final class RecordingDelegate: ReplicationDelegate {
    private struct State {
        var applied: [String: [UInt32]] = [:]
        var learned: [String: [Relay_V1_RegionState]] = [:]
        var gateAt: UInt32?
        var failOnceAt: UInt32?
        var rejectAt: UInt32?
        var failures = 0
    }

    private let state = Mutex(State())
    private let states: [Relay_V1_RegionState]
    /// Succeeds when the gated frame arrives.
    let gateReached: EventLoopPromise<Void>
    /// The gated frame is applied once this succeeds.
    let gateRelease: EventLoopPromise<Void>

    init(region: String, term: UInt32, gateAt: UInt32? = nil, failOnceAt: UInt32? = nil, rejectAt: UInt32? = nil, loop: any EventLoop) {
        var own = Relay_V1_RegionState()
        own.region = region
        own.term = term
        own.servedBy = region
        self.states = [own]
        self.gateReached = loop.makePromise()
        self.gateRelease = loop.makePromise()
        state.withLock {
            $0.gateAt = gateAt
            $0.failOnceAt = failOnceAt
            $0.rejectAt = rejectAt
        }
    }

    deinit {
        gateReached.succeed(())
        gateRelease.succeed(())
    }

    func apply(_ frame: Relay_V1_Frame, from origin: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let fail = state.withLock { state in
            guard state.failOnceAt == frame.term else { return false }
            state.failOnceAt = nil
            state.failures += 1
            return true
        }
        if fail {
            return loop.makeFailedFuture(ReplicationError(.refused, "test: frame \(frame.term) not applied this time"))
        }
        if state.withLock({ $0.rejectAt == frame.term }) {
            return loop.makeFailedFuture(FrameRejection("test: frame \(frame.term) can never be applied"))
        }
        let gated = state.withLock { state in
            guard state.gateAt == frame.term else { return false }
            state.gateAt = nil
            return true
        }
        guard gated else {
            state.withLock { $0.applied[origin, default: []].append(frame.term) }
            return loop.makeSucceededVoidFuture()
        }
        gateReached.succeed(())
        return gateRelease.futureResult.hop(to: loop).map {
            self.state.withLock { $0.applied[origin, default: []].append(frame.term) }
        }
    }

    func regionStates() -> [Relay_V1_RegionState] { states }

    func learn(_ states: [Relay_V1_RegionState], from peer: String) {
        state.withLock { $0.learned[peer] = states }
    }

    var failures: Int { state.withLock { $0.failures } }
    func applied(from origin: String) -> [UInt32] { state.withLock { $0.applied[origin] ?? [] } }
    func learned(from peer: String) -> [Relay_V1_RegionState]? { state.withLock { $0.learned[peer] } }
}

/// Layer 3: two regions, each with a real `redis-server`, replicating over
/// loopback through real `ReplicationService`s (libmosquitto shipper, the
/// engine as peer listener).
@Suite(.serialized) struct ReplicationStreamTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// One region: its Redis, a client, and (while running) its service.
    final class Region: @unchecked Sendable {
        // Tests use a Region from one task at a time.
        let name: String
        let redis: RedisServerProcess
        let client: RedisClient
        let delegate: RecordingDelegate
        var service: ReplicationService?

        init(_ name: String, delegate: RecordingDelegate) throws {
            self.name = name
            self.redis = try RedisServerProcess()
            self.client = RedisClient(configuration: redis.configuration)
            self.delegate = delegate
        }

        deinit { client.close() }
    }

    static let credentials = PeerCredentials.generate()

    static func configuration() -> ReplicationService.Configuration {
        var configuration = ReplicationService.Configuration()
        configuration.shipper.limits = .init(maximumFrames: 64, maximumBytes: 64 * 1024)
        configuration.shipper.minimumBackoff = .milliseconds(20)
        configuration.shipper.maximumBackoff = .milliseconds(200)
        configuration.shipper.connectTimeout = .seconds(2)
        configuration.shipper.publishTimeout = .seconds(3)
        configuration.shipper.leaseTTL = .seconds(6)
        configuration.shipper.idlePoll = .milliseconds(200)
        configuration.metricsInterval = .milliseconds(200)
        return configuration
    }

    static func topology(_ names: [String], ports: [Int], proxy: (to: String, port: Int)? = nil) -> Topology {
        let regions = zip(names, ports).map { name, port in
            Topology.Region(name: name, settings: "", devices: "", peers: "127.0.0.1:\(port)", http: "", standby: nil)
        }
        var links: [Topology.Link] = []
        for (i, a) in names.enumerated() {
            for b in names[(i + 1)...] {
                var proxies: [Topology.Proxy] = []
                if let proxy, [a, b].contains(proxy.to) {
                    proxies.append(.init(to: proxy.to, listen: "127.0.0.1:\(proxy.port)", control: ""))
                }
                links.append(.init(between: [a, b], rttMs: 0, bandwidthKbps: 0, loss: 0, proxies: proxies))
            }
        }
        return Topology(regions: regions, links: links)
    }

    static func start(_ region: Region, topology: Topology, cap: OutboxCap = OutboxCap()) async throws {
        var logger = Logger(label: "test.replication.\(region.name)")
        logger.logLevel = .critical
        let service = try ReplicationService(
            region: region.name, topology: topology, outbox: Outbox(redis: region.client, cap: cap), credentials: credentials,
            delegate: region.delegate, redis: region.client, redisConfiguration: region.redis.configuration,
            group: group, logger: logger, configuration: configuration())
        try await service.start()
        region.service = service
    }

    static func stop(_ region: Region) async {
        await region.service?.shutdown()
        region.service = nil
    }

    /// Frames numbered by their term: directory updates (barriers, applied
    /// one after another), or with `lanes` messages of conversation "odd" or
    /// "even" by their number (two lanes, ``FrameSchedule``).
    static func frames(_ range: ClosedRange<UInt32>, lanes: Bool = false) -> [Relay_V1_Frame] {
        range.map { n in
            var frame = Relay_V1_Frame()
            frame.term = n
            if lanes {
                frame.message.conversation = n % 2 == 1 ? "odd" : "even"
            } else {
                frame.directory.userHomes = ["user-\(n)": "a"]
            }
            return frame
        }
    }

    static func append(_ range: ClosedRange<UInt32>, lanes: Bool = false, from region: Region, to peer: String) async throws -> [UInt64] {
        var ids: [UInt64] = []
        var start = range.lowerBound
        while start <= range.upperBound {
            let end = min(range.upperBound, start + 99)
            ids += try await region.service!.append(frames(start...end, lanes: lanes), to: peer, on: group.next()).get()
            start = end + 1
        }
        return ids
    }

    static func waitAcknowledged(_ region: Region, peer: String, id: UInt64, timeout: TimeAmount = .seconds(20)) async throws {
        try await region.service!.waitUntilAcknowledged(peer: peer, id: id, timeout: timeout, on: group.next()).get()
    }

    static func cursor(_ region: Region, origin: String) async throws -> Int? {
        try await region.client.send(RedisCommand("GET", ReplicationKey.inbound(origin)), on: group.next()).get().int
    }

    /// "" when `applied` is exactly 1...count, else what is wrong (short, for failure messages).
    static func defects(_ applied: [UInt32], count: Int) -> String {
        if applied == (1...UInt32(count)).map({ $0 }) { return "" }
        var seen = Set<UInt32>()
        let duplicates = applied.filter { !seen.insert($0).inserted }
        let missing = (1...UInt32(count)).filter { !seen.contains($0) }
        let outOfOrder = zip(applied, applied.dropFirst()).filter { $0.1 <= $0.0 }.count
        return "\(applied.count) applied; duplicates \(duplicates.prefix(10)) (\(duplicates.count)); missing \(missing.prefix(10)) (\(missing.count)); \(outOfOrder) out of order"
    }

    // MARK: - Tests

    @Test func thousandFramesArriveOnceInOrderWithGossipBothWays() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 7, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        let ids = try await Self.append(1...1000, from: a, to: "b")
        #expect(ids == Array(1...1000))
        try await Self.waitAcknowledged(a, peer: "b", id: 1000)

        #expect(Self.defects(b.delegate.applied(from: "a"), count: 1000) == "")
        #expect(try await Self.cursor(b, origin: "a") == 1000)
        #expect(b.delegate.learned(from: "a")?.first?.term == 1, "the batches carry the origin's region states")
        #expect(a.delegate.learned(from: "b")?.first?.term == 7, "the PUBACKs carry the receiver's region states")
        let xlen = try await a.client.send(RedisCommand("XLEN", ReplicationKey.stream("b")), on: loop).get().int
        #expect(xlen == 0, "acknowledged frames are trimmed")

        let links = try await a.service!.links(on: loop).get()
        #expect(links.count == 1)
        #expect(links.first?.peer == "b" && links.first?.connected == true && links.first?.shipping == true)
        #expect(links.first?.acknowledged == 1000 && links.first?.frames == 0 && links.first?.lagMs == 0)
        // An acknowledged id is acknowledged at once; a later one times out, bounded.
        try await Self.waitAcknowledged(a, peer: "b", id: 10, timeout: .milliseconds(1))
        await #expect(throws: ReplicationError.self) {
            try await Self.waitAcknowledged(a, peer: "b", id: 1001, timeout: .milliseconds(100))
        }

        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func shipperRestartMidStreamLosesNothingAndAppliesNothingTwice() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, gateAt: 300, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        _ = try await Self.append(1...1000, from: a, to: "b")
        // Frame 300 is being applied: the batch holding it is in flight.
        try await withTimeout(.seconds(20), "frame 300 reached") { try await b.delegate.gateReached.futureResult.get() }
        await Self.stop(a)  // A's shipper dies with a batch unacknowledged
        b.delegate.gateRelease.succeed(())  // B finishes that batch; its PUBACK has nowhere to go
        try await Self.start(a, topology: topology)  // a new shipper resumes from `acked`

        try await Self.waitAcknowledged(a, peer: "b", id: 1000)
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 1000) == "")
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func receiverRestartMidStreamLosesNothingAndAppliesNothingTwice() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, gateAt: 300, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        _ = try await Self.append(1...1000, from: a, to: "b")
        try await withTimeout(.seconds(20), "frame 300 reached") { try await b.delegate.gateReached.futureResult.get() }
        // B stops while applying: it finishes frame 300, refuses the rest of
        // the batch (0x80) and closes its listener.
        let stopping = Task { await Self.stop(b) }
        b.delegate.gateRelease.succeed(())
        await stopping.value
        let applied = b.delegate.applied(from: "a")
        #expect(applied == Array(1...UInt32(applied.count)) && applied.count >= 300 && applied.count < 1000)
        #expect(try await Self.cursor(b, origin: "a") == applied.count)

        try await Self.start(b, topology: topology)  // same Redis, same cursor
        try await Self.waitAcknowledged(a, peer: "b", id: 1000)
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 1000) == "")
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func aFrameThatFailsToApplyIsShippedAgainAndAppliedOnce() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, failOnceAt: 100, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        _ = try await Self.append(1...200, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: 200)
        #expect(b.delegate.failures == 1)
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 200) == "")
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func framesOfAnotherLaneGoOnWhileOneLaneWaits() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, gateAt: 3, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        // One batch: 1...10; frame 3 ("odd") is held.
        let ids = try await Self.append(1...10, lanes: true, from: a, to: "b")
        try await withTimeout(.seconds(20), "frame 3 reached") { try await b.delegate.gateReached.futureResult.get() }
        try await withTimeout(.seconds(20), "the even lane applied") {
            while b.delegate.applied(from: "a").count < 6 { try await Task.sleep(for: .milliseconds(5)) }
        }
        // The even lane went past the held frame; the odd one waits behind it.
        #expect(Set(b.delegate.applied(from: "a")) == [1, 2, 4, 6, 8, 10])
        #expect(try await Self.cursor(b, origin: "a") == nil)
        b.delegate.gateRelease.succeed(())
        try await Self.waitAcknowledged(a, peer: "b", id: ids[9])
        let applied = b.delegate.applied(from: "a")
        #expect(applied.count == 10)
        #expect(applied.filter { $0 % 2 == 1 } == [1, 3, 5, 7, 9])
        #expect(applied.filter { $0 % 2 == 0 } == [2, 4, 6, 8, 10])
        #expect(try await Self.cursor(b, origin: "a") == Int(ids[9]))
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func aFailedFrameHoldsItsLaneAndTheCursorStopsBeforeIt() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, failOnceAt: 5, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        let ids = try await Self.append(1...200, lanes: true, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: ids[199])
        #expect(b.delegate.failures == 1)
        let applied = b.delegate.applied(from: "a")
        // Each lane once and in order; the even lane's frames after 4 may
        // come twice (applied, then shipped again with the failed batch).
        let odd: [UInt32] = Array(stride(from: 1, through: 199, by: 2))
        let even: [UInt32] = Array(stride(from: 2, through: 200, by: 2))
        #expect(applied.filter { $0 % 2 == 1 } == odd)
        #expect(Set(applied.filter { $0 % 2 == 0 }) == Set(even))
        #expect(applied.filter { $0 <= 4 } == [1, 2, 3, 4])
        #expect(try await Self.cursor(b, origin: "a") == Int(ids[199]))
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func aFrameRejectedForGoodIsSetAsideAndTheLinkGoesOn() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, rejectAt: 100, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        let ids = try await Self.append(1...200, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: ids[199])
        // Every frame but the poison one applied, in order; the cursor past all of them.
        #expect(b.delegate.applied(from: "a") == (1...200).filter { $0 != 100 }.map { UInt32($0) })
        #expect(try await Self.cursor(b, origin: "a") == Int(ids[199]))
        let letters = try await DeadLetters(redis: b.client).list(on: loop).get()
        #expect(letters.map(\.key) == ["frame:a:\(ids[99])"])
        #expect(letters.first?.error == "test: frame 100 can never be applied")
        #expect(try letters.first.map { try Relay_V1_Frame(serializedBytes: $0.body).term } == 100)
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func cutLinkKeepsFramesAndHealedLinkDeliversThem() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, loop: loop))
        let bPort = try RedisServerProcess.freeLoopbackPort()
        let proxyPort = try RedisServerProcess.freeLoopbackPort()
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), bPort], proxy: ("b", proxyPort))
        let proxy = try await DelayProxy.start(
            listen: HostPort(host: "127.0.0.1", port: proxyPort), to: HostPort(host: "127.0.0.1", port: bPort), control: nil,
            conditions: LinkConditions(rttMs: 10, bandwidthKbps: 1_000_000, loss: 0), group: Self.group)
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)

        _ = try await Self.append(1...200, from: a, to: "b")
        try await Self.waitAcknowledged(a, peer: "b", id: 200)

        _ = await proxy.apply(.cut)
        let service = a.service!
        _ = try await eventually("A sees the link down") {
            try await service.links(on: loop).get().first?.connected == false ? true : nil
        }
        _ = try await Self.append(201...500, from: a, to: "b")
        await #expect(throws: ReplicationError.self, "nothing crosses a cut link") {
            try await Self.waitAcknowledged(a, peer: "b", id: 500, timeout: .milliseconds(300))
        }
        let readiness = try await ReplicationReadiness(service: service).check(on: loop).get()
        #expect(readiness.ready, "a partitioned region keeps serving")
        #expect(readiness.detail.contains("b: DOWN") && readiness.detail.contains("300 frames"))

        _ = await proxy.apply(.heal)
        try await Self.waitAcknowledged(a, peer: "b", id: 500)
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 500) == "")
        await Self.stop(a)
        await Self.stop(b)
        await proxy.close()
    }

    @Test func twoNodesOfARegionShipALinkOnceAndBothSeeTheAcknowledgement() async throws {
        let loop = Self.group.next()
        let a = try Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 1, loop: loop))
        let topology = Self.topology(["a", "b"], ports: [try RedisServerProcess.freeLoopbackPort(), try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(a, topology: topology)
        try await Self.start(b, topology: topology)
        // A second node of region a on the same Redis (its own peer listener port).
        var configuration = Self.configuration()
        configuration.listen = HostPort(host: "127.0.0.1", port: 0)
        let second = try ReplicationService(
            region: "a", topology: topology, outbox: Outbox(redis: a.client), credentials: Self.credentials,
            delegate: a.delegate, redis: a.client, redisConfiguration: a.redis.configuration,
            group: Self.group, logger: Logger(label: "test.second"), configuration: configuration)
        try await second.start()

        let ids = try await second.append(Self.frames(1...300), to: "b", on: loop).get()
        #expect(ids == Array(1...300))
        try await second.waitUntilAcknowledged(peer: "b", id: 300, timeout: .seconds(20), on: loop).get()
        try await Self.waitAcknowledged(a, peer: "b", id: 300)
        #expect(Self.defects(b.delegate.applied(from: "a"), count: 300) == "")
        let shipping = try await [a.service!.links(on: loop).get(), second.links(on: loop).get()].map { $0.first?.shipping }
        #expect(shipping.filter { $0 == true }.count == 1, "exactly one node holds the lease: \(shipping)")

        await second.shutdown()
        await Self.stop(a)
        await Self.stop(b)
    }

    @Test func peerListenerRefusesDevicesWrongPasswordsAndForeignTopics() async throws {
        let loop = Self.group.next()
        let b = try Region("b", delegate: RecordingDelegate(region: "b", term: 4, loop: loop))
        let port = try RedisServerProcess.freeLoopbackPort()
        let topology = Self.topology(["a", "b", "c"], ports: [try RedisServerProcess.freeLoopbackPort(), port, try RedisServerProcess.freeLoopbackPort()])
        try await Self.start(b, topology: topology)

        func refusal(_ username: String, _ password: String) async throws -> UInt8? {
            let client = try MosquittoClient(configuration: .init(clientID: "probe", username: username, password: password))
            defer { client.close() }
            do {
                _ = try await client.connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
                return nil
            } catch MosquittoClientError.refused(let ack) {
                return ack.reasonCode
            }
        }
        #expect(try await refusal("region:a", Self.credentials.password(for: "c")) == 0x86)
        #expect(try await refusal("region:a", "00") == 0x86)
        #expect(try await refusal("alice", Self.credentials.password(for: "a")) == 0x87)
        #expect(try await refusal("region:b", Self.credentials.password(for: "b")) == 0x87)
        #expect(try await refusal("region:zz", Self.credentials.password(for: "zz")) == 0x87)

        // Region c, properly authenticated, may publish only on repl/c.
        let client = try MosquittoClient(configuration: .init(
            clientID: "region-c-to-b", username: "region:c", password: Self.credentials.password(for: "c")))
        defer { client.close() }
        let watcher = Task { for await _ in client.events {} }
        defer { watcher.cancel() }
        _ = try await client.connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
        let entries = Self.frames(1...3).enumerated().map { i, frame in
            OutboxEntry(id: UInt64(i + 1), appendedMs: 0, frame: try! frame.serializedBytes())
        }
        let foreign: [UInt8] = try ReplicationBatchCodec.batch(origin: "a", entries: entries, regions: []).serializedBytes()
        #expect(try await client.publish(topic: "repl/a", payload: foreign, qos: 1, timeout: .seconds(5)).reasonCode == 0x87)
        #expect(try await client.publish(topic: "repl/c", payload: [0x0A, 0xFF, 0x01], qos: 1, timeout: .seconds(5)).reasonCode == 0x99)
        #expect(try await client.subscribe("repl/#", timeout: .seconds(5)).reasonCodes == [0x87])
        #expect(b.delegate.applied(from: "a").isEmpty && b.delegate.applied(from: "c").isEmpty)

        let own: [UInt8] = try ReplicationBatchCodec.batch(origin: "c", entries: entries, regions: []).serializedBytes()
        let ack = try await client.publish(topic: "repl/c", payload: own, qos: 1, timeout: .seconds(5))
        #expect(ack.reasonCode == 0)
        let regions = ack.properties.userProperties.first { $0.name == "regions" }.flatMap { ReplicationBatchCodec.regions(fromValue: $0.value) }
        #expect(regions?.first?.region == "b" && regions?.first?.term == 4)
        #expect(b.delegate.applied(from: "c") == [1, 2, 3])
        // Sent again (a shipper that lost the PUBACK): acknowledged, applied once.
        #expect(try await client.publish(topic: "repl/c", payload: own, qos: 1, timeout: .seconds(5)).reasonCode == 0)
        #expect(b.delegate.applied(from: "c") == [1, 2, 3])
        await Self.stop(b)
    }
}
