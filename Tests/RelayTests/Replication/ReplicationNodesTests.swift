import Foundation
import Logging
import NIOCore
import RedisTestSupport
import RelayReplication
import RelayStore
import RelayTopology
import Testing

/// Layer 3: a region of two nodes sharing one real `redis-server`, each
/// with its own peer listener, receiving one link (decision 0027).
@Suite(.serialized) struct ReplicationNodesTests {
    typealias Stream = ReplicationStreamTests

    /// A service of `region` (a node named `nodeID`) on `region`'s Redis,
    /// listening where `topology` says `region`'s peers are.
    static func node(_ region: Stream.Region, topology: Topology, nodeID: String) async throws -> ReplicationService {
        var logger = Logger(label: "test.nodes.\(nodeID)")
        logger.logLevel = .critical
        let service = try ReplicationService(
            region: region.name, topology: topology, outbox: Outbox(redis: region.client), credentials: Stream.credentials,
            delegate: region.delegate, redis: region.client, redisConfiguration: region.redis.configuration,
            group: Stream.group, logger: logger, configuration: Stream.configuration(), nodeID: nodeID)
        try await service.start()
        return service
    }

    /// B's node b0 is in the middle of a batch (frame 300 held back) when
    /// A's shipping moves to another node of A that reaches B's node b1 (a
    /// takeover in A). b1 must refuse A's batches while b0 still applies
    /// them, then go on from b0's cursor: every frame applied once, in order.
    @Test func twoNodesReceivingOneLinkApplyEachFrameOnceInOrder() async throws {
        let loop = Stream.group.next()
        let a = try Stream.Region("a", delegate: RecordingDelegate(region: "a", term: 1, loop: loop))
        let b = try Stream.Region("b", delegate: RecordingDelegate(region: "b", term: 1, gateAt: 300, loop: loop))
        let aPort = try RedisServerProcess.freeLoopbackPort()
        let towardsB0 = Stream.topology(["a", "b"], ports: [aPort, try RedisServerProcess.freeLoopbackPort()])
        let towardsB1 = Stream.topology(["a", "b"], ports: [aPort, try RedisServerProcess.freeLoopbackPort()])
        let b0 = try await Self.node(b, topology: towardsB0, nodeID: "b0")
        let b1 = try await Self.node(b, topology: towardsB1, nodeID: "b1")
        let a0 = try await Self.node(a, topology: towardsB0, nodeID: "a0")

        var ids: [UInt64] = []
        for start in stride(from: UInt32(1), through: 1000, by: 100) {
            ids += try await a0.append(Stream.frames(start...(start + 99)), to: "b", on: loop).get()
        }
        #expect(ids == Array(1...1000))
        try await withTimeout(.seconds(20), "frame 300 reached b0") { try await b.delegate.gateReached.futureResult.get() }
        #expect(try await b.client.send(RedisCommand("GET", ReplicationKey.inboundLease("a")), on: loop).get().string == "b0")

        // A's shipping moves to a node that reaches b1, while b0 still applies.
        await a0.shutdown()
        let a1 = try await Self.node(a, topology: towardsB1, nodeID: "a1")
        // b1 refuses: another node holds the lease on a's frames (polled, bounded:
        // the refusal is only seen in the shipper's last error).
        let deadline = ContinuousClock.now + .seconds(20)
        var refused = false
        while !refused && ContinuousClock.now < deadline {
            let links = try await a1.links(on: loop).get()
            refused = links.first?.lastError?.contains("another node of this region is applying a's frames") == true
            if !refused { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(refused, "b1 refused a's batches while b0 held the lease")
        #expect(b.delegate.applied(from: "a").count == 299, "nothing applied past the held frame meanwhile")

        b.delegate.gateRelease.succeed(())  // b0 finishes its batch and gives the lease up
        try await a1.waitUntilAcknowledged(peer: "b", id: 1000, timeout: .seconds(30), on: loop).get()
        #expect(Stream.defects(b.delegate.applied(from: "a"), count: 1000) == "")
        #expect(try await Stream.cursor(b, origin: "a") == 1000)

        await a1.shutdown()
        await b0.shutdown()
        await b1.shutdown()
    }

    /// The cursor's advance renews the node's lease: a lease that ran out
    /// with nobody else taking it (a batch longer than its time to live) is
    /// taken again; one another node holds refuses the advance.
    @Test func theCursorRetakesALeaseThatRanOutButNotOneAnotherNodeHolds() async throws {
        let redis = try RedisServerProcess()
        let client = RedisClient(configuration: redis.configuration)
        defer { client.close() }
        let loop = Stream.group.next()
        let script = try ScriptLibrary.load("replication_cursor")
        let keys = [ReplicationKey.inbound("a"), ReplicationKey.inboundLease("a")]
        func advance(to id: Int, as node: String) async throws -> Int? {
            try await client.send(script.command(keys: keys, arguments: [String(id), node, "60000"]), on: loop).get().int
        }
        func get(_ key: String) async throws -> String? {
            try await client.send(RedisCommand("GET", key), on: loop).get().string
        }

        #expect(try await advance(to: 5, as: "b0") == 5)
        #expect(try await get(keys[1]) == "b0")
        _ = try await client.send(RedisCommand("SET", keys[1], "b1"), on: loop).get()
        #expect(try await advance(to: 9, as: "b0") == -1)
        #expect(try await get(keys[0]) == "5")
        #expect(try await get(keys[1]) == "b1")
    }
}
