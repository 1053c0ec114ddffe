import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore
import Testing

/// The cluster client against a real Redis Cluster (3 masters, 3 replicas)
/// started on loopback by each test. Serialized: six servers at a time are
/// enough for this machine.
@Suite("RedisClient against a real Redis Cluster", .serialized)
struct RedisClusterClientTests {
    /// A client to one node only (no routing), to check what it holds.
    private func direct(_ port: Int) -> RedisClient {
        RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: port))
    }

    private func nodeID(_ cluster: RedisClusterProcess, _ port: Int) throws -> String {
        try cluster.cli(port: port, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func routesCommandsAndPipelinesToTheMastersOfTheirSlots() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }

        // The cluster's own CLUSTER SLOTS reply reads into a full map of three shards.
        let map = try ClusterSlotsReply.parse(try await client.send(RedisCommand("CLUSTER", "SLOTS")), queriedHost: "127.0.0.1")
        #expect(map.coversEverySlot)
        #expect(map.shards.count == 3)
        // (Replicas are listed only once the masters have heard of their replication offset.)
        #expect(map.nodes.isSubset(of: Set(cluster.seeds)))

        // One pipeline over every master, with keyless commands in it, answered in order.
        let count = 300
        var commands: [RedisCommand] = [RedisCommand("PING")]
        for index in 0..<count { commands.append(RedisCommand("SET", "key:\(index)", "value \(index)")) }
        commands.append(RedisCommand("PING"))
        let all = commands
        let written = try await withTimeout(.seconds(10)) { try await client.pipeline(all) }
        #expect(try written.map { try $0.get() } == [.simpleString("PONG")] + Array(repeating: .simpleString("OK"), count: count) + [.simpleString("PONG")])
        let read = try await client.pipeline((0..<count).map { RedisCommand("GET", "key:\($0)") })
        #expect(try read.map { try $0.get().string } == (0..<count).map { "value \($0)" })

        // Each key is on the master the cluster names for its slot, and every master holds some.
        var total = 0
        let ranges = try cluster.masterRanges()
        func owner(_ key: String) -> Int? { ranges.first { $0.slots.contains(Int(HashSlot(key: key).value)) }?.port }
        let masters = Set((0..<count).compactMap { owner("key:\($0)") })
        #expect(masters.count == 3)
        for port in masters {
            let node = self.direct(port)
            defer { node.close() }
            let size = try await node.send(RedisCommand("DBSIZE")).int ?? 0
            #expect(size > 0)
            total += size
        }
        #expect(total == count)
        for index in [0, 17, 299] {
            let port = try #require(owner("key:\(index)"))
            let node = self.direct(port)
            defer { node.close() }
            #expect(try await node.send(RedisCommand("GET", "key:\(index)")).string == "value \(index)")
        }

        // Keys of two slots in one command are refused unsent; one slot via its hash tag runs.
        await #expect(throws: RedisError(.server("CROSSSLOT"), message: "Keys in request don't hash to the same slot")) {
            try await client.send(RedisCommand("DEL", "key:1", "key:2"))
        }
        #expect(try await client.send(RedisCommand("DEL", "{t}a", "{t}b")) == .integer(0))

        // A script is loaded on each node the first time it runs there (NOSCRIPT never reaches the caller).
        let script = try ScriptLibrary.load("echo_keys")
        for index in 0..<30 {
            let reply = try await client.evaluate(script, keys: ["{s\(index)}:a", "{s\(index)}:b"], arguments: [index])
            #expect(reply.array?.compactMap(\.string) == ["{s\(index)}:a", "{s\(index)}:b", "\(index)"])
        }
        await #expect(throws: RedisError.self) { try await client.evaluate(script, keys: ["{a}", "{b}"]) }

        // SCAN walks every master: a caller's loop until "0" sees every key once.
        var cursor = "0"
        var scanned: [String] = []
        repeat {
            let reply = try await client.send(RedisCommand("SCAN", cursor, "MATCH", "key:*", "COUNT", 50))
            let parts = try #require(reply.array)
            cursor = try #require(parts.first?.string)
            scanned += (parts.last?.array ?? []).compactMap(\.string)
        } while cursor != "0"
        #expect(Set(scanned) == Set((0..<count).map { "key:\($0)" }))

        // Futures, on a loop of the client's group.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        #expect(try await client.send(RedisCommand("GET", "key:5"), on: loop).get().string == "value 5")
    }

    @Test func followsAskDuringAMigrationAndMovedAfterIt() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }
        let slot = HashSlot(key: "foo")  // 12182
        let source = try #require(try cluster.masterPort(forSlot: slot))
        let masters = Set(try cluster.masterRanges().map(\.port))
        let target = try #require(masters.subtracting([source]).sorted().first)
        let (sourceID, targetID) = (try self.nodeID(cluster, source), try self.nodeID(cluster, target))

        _ = try await client.pipeline([RedisCommand("SET", "foo", "1"), RedisCommand("SET", "{foo}b", "2")])
        // Migrate the slot by hand, as redis-cli --cluster reshard does: foo moves, {foo}b not yet.
        _ = try cluster.cli(port: target, ["CLUSTER", "SETSLOT", "\(slot.value)", "IMPORTING", sourceID])
        _ = try cluster.cli(port: source, ["CLUSTER", "SETSLOT", "\(slot.value)", "MIGRATING", targetID])
        let migrated = try cluster.cli(port: source, ["MIGRATE", "127.0.0.1", "\(target)", "", "0", "5000", "KEYS", "foo"])
        #expect(migrated.contains("OK"))

        // foo: the source answers ASK, the client asks the target; {foo}b: still on the source.
        let during = try await client.pipeline([RedisCommand("GET", "foo"), RedisCommand("GET", "{foo}b"), RedisCommand("SET", "foo", "3")])
        #expect(try during.map { try $0.get() } == [.bulk(ByteBuffer(string: "1")), .bulk(ByteBuffer(string: "2")), .simpleString("OK")])
        // A command on two keys of the slot, one migrated and one not: the cluster says TRYAGAIN, typed as such.
        do {
            _ = try await client.send(RedisCommand("MGET", "foo", "{foo}b"))
            Issue.record("MGET across a migrating slot should be refused")
        } catch let error as RedisError {
            #expect(error.kind == .clusterUnavailable)
            #expect(error.message.hasPrefix("TRYAGAIN"))
        }
        let onTarget = self.direct(target)
        defer { onTarget.close() }
        #expect(try await onTarget.pipeline([RedisCommand("ASKING"), RedisCommand("GET", "foo")]).last?.get().string == "3")

        // The migration ends: every node learns the slot's new owner; the source answers MOVED.
        _ = try cluster.cli(port: source, ["MIGRATE", "127.0.0.1", "\(target)", "", "0", "5000", "KEYS", "{foo}b"])
        for port in [target, source] + masters.subtracting([source, target]) {
            _ = try cluster.cli(port: port, ["CLUSTER", "SETSLOT", "\(slot.value)", "NODE", targetID])
        }
        #expect(try await client.send(RedisCommand("GET", "{foo}b")).string == "2")
        // Once MOVED was followed, the client goes to the target directly: the source refuses no more GETs.
        let rejectedBefore = try self.rejectedGets(cluster, source)
        for _ in 0..<5 { #expect(try await client.send(RedisCommand("GET", "foo")).string == "3") }
        #expect(try self.rejectedGets(cluster, source) == rejectedBefore)
        #expect(rejectedBefore >= 1)  // the ASKs during the migration, and the MOVED after it
        // The ASKs were followed on the target.
        #expect(try self.calls(cluster, target, "asking") >= 1)
    }

    /// The GETs node `port` refused (MOVED, ASK), from `INFO commandstats`.
    private func rejectedGets(_ cluster: RedisClusterProcess, _ port: Int) throws -> Int {
        try self.commandStat(cluster, port, "get", "rejected_calls")
    }

    /// How many times node `port` ran `command`.
    private func calls(_ cluster: RedisClusterProcess, _ port: Int, _ command: String) throws -> Int {
        try self.commandStat(cluster, port, command, "calls")
    }

    private func commandStat(_ cluster: RedisClusterProcess, _ port: Int, _ command: String, _ name: String) throws -> Int {
        let stats = try cluster.cli(port: port, ["INFO", "commandstats"])
        // cmdstat_get:calls=3,usec=..,usec_per_call=..,rejected_calls=1,failed_calls=0
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(command):") }) else { return 0 }
        let fields = line.dropFirst("cmdstat_\(command):".count).split(separator: ",")
        guard let field = fields.first(where: { $0.hasPrefix("\(name)=") }) else { return 0 }
        return Int(field.dropFirst(name.count + 1).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    @Test func followsAFailoverAfterAMasterIsKilled() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }
        let slot = HashSlot(key: "foo")
        let master = try #require(try cluster.masterPort(forSlot: slot))
        _ = try await client.pipeline([RedisCommand("SET", "foo", "before"), RedisCommand("WAIT", 1, 2000)])
        let replicated = try await client.pipeline([RedisCommand("SET", "foo", "before"), RedisCommand("WAIT", 1, 2000)])
        #expect(try replicated[1].get() == .integer(1))  // WAIT ran on the write's connection

        try #require(cluster.node(port: master)).kill()
        // Writes fail (fast) while the cluster has not promoted the replica, then succeed on it.
        let written = try await eventually("a write after the failover", timeout: .seconds(20)) {
            try await client.send(RedisCommand("SET", "foo", "after")) == .simpleString("OK") ? true : nil
        }
        #expect(written)
        #expect(try await client.send(RedisCommand("GET", "foo")).string == "after")
        let promoted = try #require(try cluster.masterPort(forSlot: slot))
        #expect(promoted != master)
        let node = self.direct(promoted)
        defer { node.close() }
        #expect(try await node.send(RedisCommand("GET", "foo")).string == "after")
    }

    @Test func theSubscriberMovesToAnotherNodeWhenItsNodeDies() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }
        let (messages, received) = AsyncStream.makeStream(of: String.self)
        let (reconnects, reconnected) = AsyncStream.makeStream(of: Void.self)
        // It listens on the last node (a replica): not where the client sends keyless commands.
        let listening = RedisConfiguration(clusterSeeds: cluster.seeds.reversed())
        let subscriber = RedisSubscriber(
            configuration: listening,
            onReconnect: { reconnected.yield() },
            handler: { _, payload in received.yield(String(buffer: payload)) })
        defer { subscriber.close() }
        try await withTimeout(.seconds(10)) { try await subscriber.subscribe(channel: "{d:x}:ch") }
        /// The next message, waited for (bounded).
        @Sendable func next() async throws -> String? {
            try await withTimeout(.seconds(20), "a message") {
                for await message in messages { return message }
                return nil
            }
        }
        _ = try await client.send(RedisCommand("PUBLISH", "{d:x}:ch", "one"))
        #expect(try await next() == "one")
        // PUBSUB NUMSUB counts the subscriber whichever node it listens on, also inside a pipeline.
        let counted = try await client.pipeline([
            RedisCommand("GET", "foo"), RedisCommand("PUBSUB", "NUMSUB", "{d:x}:ch", "{d:y}:ch"), RedisCommand("GET", "bar"),
        ])
        #expect(try counted[1].get().array?.compactMap(\.int) == [1, 0])
        #expect(try counted[0].get() == .null)
        #expect(try counted[2].get() == .null)

        // The node it listens on dies: it subscribes again on another seed.
        try #require(cluster.node(port: listening.port)).kill()
        try await withTimeout(.seconds(20), "the subscriber's reconnect") {
            for await _ in reconnects { return }
        }
        #expect(subscriber.channels == ["{d:x}:ch"])
        // A PUBLISH on any live node reaches it (after the failover, when the dead node was the client's fallback).
        let published = try await eventually("a publish after the failover", timeout: .seconds(20)) {
            // (The count is of the receiving node's subscribers only: a cluster broadcasts the message on.)
            try await client.send(RedisCommand("PUBLISH", "{d:x}:ch", "two")).int.map { _ in true }
        }
        #expect(published)
        #expect(try await next() == "two")
        #expect(try await client.send(RedisCommand("PUBSUB", "NUMSUB", "{d:x}:ch")).array?.last?.int == 1)
    }

    @Test func writesWaitForAReplicaAndGoOnWithoutOneThatIsGone() async throws {
        let cluster = try RedisClusterProcess()
        var configuration = cluster.configuration
        configuration.clusterReplicaAckTimeout = .milliseconds(300)
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        let master = try #require(try cluster.masterPort(forSlot: HashSlot(key: "foo")))
        _ = try await client.send(RedisCommand("GET", "foo"))  // the map is read by now

        let waitsBefore = try self.calls(cluster, master, "wait")
        #expect(try await client.send(RedisCommand("SET", "foo", "1")) == .simpleString("OK"))
        #expect(try self.calls(cluster, master, "wait") == waitsBefore + 1)
        #expect(try await client.pipeline([RedisCommand("SET", "foo", "2"), RedisCommand("INCR", "{foo}n")]).count == 2)
        #expect(try self.calls(cluster, master, "wait") == waitsBefore + 2)  // one WAIT per batch
        _ = try await client.send(RedisCommand("GET", "foo"))
        #expect(try self.calls(cluster, master, "wait") == waitsBefore + 2)  // reads do not wait

        // The master's replica dies: the next write waits at most the timeout, and stands.
        let replicaLine = try cluster.cli(port: master, ["INFO", "replication"])
            .split(whereSeparator: \.isNewline).first { $0.hasPrefix("slave0:") }
        let replicaPort = try #require(replicaLine?.split(separator: ",").first { $0.hasPrefix("port=") }.flatMap { Int($0.dropFirst(5)) })
        try #require(cluster.node(port: replicaPort)).kill()
        let clock = ContinuousClock()
        let started = clock.now
        #expect(try await client.send(RedisCommand("SET", "foo", "3")) == .simpleString("OK"))
        #expect(clock.now - started < .seconds(3))
        // Degraded: later writes do not WAIT (each would hold the connection for the timeout).
        let waitsNow = try self.calls(cluster, master, "wait")
        #expect(try await client.send(RedisCommand("SET", "foo", "4")) == .simpleString("OK"))
        #expect(try self.calls(cluster, master, "wait") == waitsNow)
        #expect(try await client.send(RedisCommand("GET", "foo")).string == "4")
    }
}
