import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore
import Testing

/// Sharded Pub/Sub (`SSUBSCRIBE`/`SPUBLISH`) through `RedisSubscriber`
/// against a real Redis Cluster (3 masters, 3 replicas) started on loopback
/// by each test: each channel on the master of its slot, exact subscriber
/// counts, and the channels following a failover and a resharding.
@Suite("RedisSubscriber's sharded channels on a real Redis Cluster", .serialized)
struct ShardedSubscriberTests {
    /// A subscriber with the cluster client's routing, its messages and reconnects as streams.
    private struct Listening {
        let subscriber: RedisSubscriber
        let messages: AsyncStream<String>
        let reconnects: AsyncStream<Void>

        init(_ cluster: RedisClusterProcess, _ client: RedisClient) {
            let (messages, received) = AsyncStream.makeStream(of: String.self)
            let (reconnects, reconnected) = AsyncStream.makeStream(of: Void.self)
            self.messages = messages
            self.reconnects = reconnects
            self.subscriber = RedisSubscriber(
                configuration: cluster.configuration, cluster: client.clusterRouting,
                onReconnect: { reconnected.yield() },
                handler: { channel, payload in received.yield("\(channel)=\(String(buffer: payload))") })
        }

        /// The next `onReconnect`, waited for (bounded).
        func reconnected() async throws {
            try await withTimeout(.seconds(30), "onReconnect") {
                for await _ in self.reconnects { return }
            }
        }

        /// The next message, waited for (bounded).
        func next() async throws -> String? {
            try await withTimeout(.seconds(20), "a message") {
                for await message in self.messages { return message }
                return nil
            }
        }
    }

    /// Asks `check` until it answers, at most 30 s (another process's state:
    /// polled every 20 ms, bounded).
    @discardableResult
    private func poll<T>(_ what: String, _ check: () throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let value = try check() { return value }
            guard ContinuousClock.now < deadline else { throw TimeoutError(what: what, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `PUBSUB SHARDNUMSUB channel` asked of node `port` alone.
    private func shardSubscribers(_ cluster: RedisClusterProcess, _ port: Int, _ channel: String) throws -> Int? {
        let words = try cluster.cli(port: port, ["PUBSUB", "SHARDNUMSUB", channel]).split(whereSeparator: \.isWhitespace)
        return words.count == 2 ? Int(words[1]) : nil
    }

    /// One channel name per master: `d:<prefix><n>` for the first n whose slot each master serves.
    private func channelPerMaster(_ cluster: RedisClusterProcess, prefix: String) throws -> [Int: String] {
        var found: [Int: String] = [:]
        let ranges = try cluster.masterRanges()
        var index = 0
        while found.count < Set(ranges.map(\.port)).count, index < 10_000 {
            let channel = "d:\(prefix)\(index)"
            index += 1
            if let port = ranges.first(where: { $0.slots.contains(Int(HashSlot(key: channel).value)) })?.port, found[port] == nil {
                found[port] = channel
            }
        }
        return found
    }

    @Test func eachChannelIsSubscribedOnTheMasterOfItsSlotAndCountedExactly() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }
        let listening = Listening(cluster, client)
        defer { listening.subscriber.close() }
        let channels = try self.channelPerMaster(cluster, prefix: "dev")
        #expect(channels.count == 3)
        for channel in channels.values.sorted() {
            try await withTimeout(.seconds(10)) { try await listening.subscriber.subscribe(.sharded(channel)) }
        }
        for (port, channel) in channels.sorted(by: { $0.key < $1.key }) {
            // Counted on its own master, nowhere else.
            #expect(try self.shardSubscribers(cluster, port, channel) == 1)
            // SPUBLISH through the cluster client counts exactly the one subscriber, and it arrives.
            #expect(try await client.send(RedisCommand("SPUBLISH", channel, "hello")) == .integer(1))
            #expect(try await listening.next() == "\(channel)=hello")
            // PUBSUB SHARDNUMSUB through the client goes to the channel's master.
            #expect(try await client.send(RedisCommand("PUBSUB", "SHARDNUMSUB", channel)).array?.last?.int == 1)
        }
        #expect(listening.subscriber.subscriptions == Set(channels.values.map { .sharded($0) }))
        // A classic channel beside them, on the main connection.
        try await withTimeout(.seconds(10)) { try await listening.subscriber.subscribe(channel: "notices") }
        _ = try await client.send(RedisCommand("PUBLISH", "notices", "n1"))
        #expect(try await listening.next() == "notices=n1")

        // Unsubscribed: no longer counted, nothing more arrives from it.
        let (port, gone) = try #require(channels.min { $0.key < $1.key })
        try await withTimeout(.seconds(10)) { try await listening.subscriber.unsubscribe(.sharded(gone)) }
        #expect(try self.shardSubscribers(cluster, port, gone) == 0)
        #expect(try await client.send(RedisCommand("SPUBLISH", gone, "lost")) == .integer(0))
        let other = try #require(channels.values.first { $0 != gone })
        _ = try await client.send(RedisCommand("SPUBLISH", other, "after"))
        #expect(try await listening.next() == "\(other)=after")
    }

    @Test func aKilledMastersChannelsMoveToItsPromotedReplica() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }
        let listening = Listening(cluster, client)
        defer { listening.subscriber.close() }
        let channels = try self.channelPerMaster(cluster, prefix: "kill")
        for channel in channels.values.sorted() {
            try await withTimeout(.seconds(10)) { try await listening.subscriber.subscribe(.sharded(channel)) }
        }
        let (master, channel) = try #require(channels.min { $0.key < $1.key })
        #expect(try await client.send(RedisCommand("SPUBLISH", channel, "one")) == .integer(1))
        #expect(try await listening.next() == "\(channel)=one")

        try #require(cluster.node(port: master)).kill()
        // The cluster promotes the replica, and the channel is subscribed there
        // (polled, bounded: both happen in other processes' time; onReconnect
        // is no witness here, the main connection may have been on the killed node).
        let promoted = try await self.poll("the replica promoted") { () -> Int? in
            guard let port = try cluster.masterPort(forSlot: HashSlot(key: channel)), port != master else { return nil }
            return port
        }
        try await self.poll("the channel subscribed on the promoted master") {
            try self.shardSubscribers(cluster, promoted, channel) == 1 ? true : nil
        }
        // SPUBLISH once the client follows the failover too: counted, and it arrives.
        let counted = try await eventually("an SPUBLISH after the failover", timeout: .seconds(20)) {
            try await client.send(RedisCommand("SPUBLISH", channel, "two")).int
        }
        #expect(counted == 1)
        #expect(try await listening.next() == "\(channel)=two")
        // The channels of the other masters never moved.
        for (port, other) in channels where port != master {
            #expect(try self.shardSubscribers(cluster, port, other) == 1)
        }
    }

    @Test func aReshardedSlotTakesItsChannelToTheNewMaster() async throws {
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }
        let listening = Listening(cluster, client)
        defer { listening.subscriber.close() }
        let channels = try self.channelPerMaster(cluster, prefix: "move")
        let (source, channel) = try #require(channels.min { $0.key < $1.key })
        try await withTimeout(.seconds(10)) { try await listening.subscriber.subscribe(.sharded(channel)) }
        let masters = Set(try cluster.masterRanges().map(\.port))
        let target = try #require(masters.subtracting([source]).sorted().first)
        let sourceID = try cluster.cli(port: source, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let targetID = try cluster.cli(port: target, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let slot = "\(HashSlot(key: channel).value)"

        // Move the (keyless) slot as redis-cli --cluster reshard does; the source drops its shard channels.
        _ = try cluster.cli(port: target, ["CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID])
        _ = try cluster.cli(port: source, ["CLUSTER", "SETSLOT", slot, "MIGRATING", targetID])
        for port in [target, source] + masters.subtracting([source, target]).sorted() {
            _ = try cluster.cli(port: port, ["CLUSTER", "SETSLOT", slot, "NODE", targetID])
        }
        // The source drops the channel (an unsolicited sunsubscribe); it is placed on the target.
        try await self.poll("the channel subscribed on the target") {
            try self.shardSubscribers(cluster, target, channel) == 1 ? true : nil
        }
        #expect(try self.shardSubscribers(cluster, source, channel) == 0)
        // No node died, so the main connection never reconnected: this is the placement's onReconnect.
        try await listening.reconnected()
        let counted = try await eventually("an SPUBLISH after the move", timeout: .seconds(20)) {
            try await client.send(RedisCommand("SPUBLISH", channel, "moved")).int
        }
        #expect(counted == 1)
        #expect(try await listening.next() == "\(channel)=moved")
    }
}
