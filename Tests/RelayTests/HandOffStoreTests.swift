import NIOCore
import NIOPosix
import RedisTestSupport
@testable import RelayChat
import RelayStore
import Testing

/// The store side of the local hand-off (decision 0008), against a real
/// redis-server: wake-ups that name what was stored, queue positions, and
/// marks that never outlive a cursor.
@Suite("Hand-off store operations against a real redis-server")
struct HandOffStoreTests {
    /// A store and a subscriber of one device's channel.
    final class Fixture {
        let server: RedisServerProcess
        let redis: RedisClient
        let store: ChatStore
        let subscriber: RedisSubscriber
        let wakeups: AsyncStream<String>
        let loop = MultiThreadedEventLoopGroup.singleton.next()

        init(device: String) async throws {
            server = try RedisServerProcess()
            redis = RedisClient(configuration: server.configuration)
            store = try ChatStore(redis: redis, configuration: ChatConfiguration())
            let (wakeups, sink) = AsyncStream.makeStream(of: String.self)
            self.wakeups = wakeups
            subscriber = RedisSubscriber(configuration: server.configuration) { _, payload in
                sink.yield(String(buffer: payload))
            }
            try await subscriber.subscribe(.sharded(ChatStore.channel(device: device)))
        }

        deinit {
            subscriber.close()
            redis.close()
        }

        func nextWakeup() async throws -> String {
            let wakeups = self.wakeups
            return try await withTimeout(.seconds(10), "a wake-up") {
                var iterator = wakeups.makeAsyncIterator()
                return await iterator.next() ?? ""
            }
        }
    }

    @Test func aMarkForWhatTheDeviceAcknowledgedIsNotWrittenAndWakesNobody() async throws {
        let f = try await Fixture(device: "dev")
        let d = ChatStore.device("dev")
        _ = try await f.redis.send(RedisCommand("HSET", "\(d):cur", "alice~bob", "5"))

        // Handed over and acknowledged before its mark landed: no mark, no wake-up.
        try await f.store.markDirty(devices: ["dev"], conversation: "alice~bob", seq: 5, on: f.loop).get()
        #expect(try await f.redis.send(RedisCommand("ZSCORE", "\(d):dirty", "alice~bob")) == .null)

        // The next one is marked, and its wake-up names it.
        try await f.store.markDirty(devices: ["dev"], conversation: "alice~bob", seq: 6, on: f.loop).get()
        #expect(try await f.redis.send(RedisCommand("ZSCORE", "\(d):dirty", "alice~bob")).string == "6")
        #expect(try await f.nextWakeup() == "m6:alice~bob")
    }

    @Test func enqueueAnswersPositionsAndWakesWithTheLast() async throws {
        let f = try await Fixture(device: "dev")
        let d = ChatStore.device("dev")
        _ = try await f.redis.send(RedisCommand("SET", "\(d):n", "41"))
        let (a, b, c): ([UInt8], [UInt8], [UInt8]) = (Array("s|a".utf8), Array("s|b".utf8), Array("e|c".utf8))

        let first = try await f.store.enqueue([("dev", [a, b])], on: f.loop).get()
        #expect(first.map(\.positions) == [[42, 43]])
        #expect(try await f.nextWakeup() == "q43")

        // An entry queued already keeps its place and has no new position.
        let second = try await f.store.enqueue([("dev", [b, c])], on: f.loop).get()
        #expect(second.map(\.positions) == [[0, 44]])
        #expect(second.map(\.added) == [1])
        #expect(try await f.nextWakeup() == "q44")

        // A read sees the counter, so a pump knows the next position to expect.
        let snapshot = try await f.store.snapshot(device: "dev", statusAfter: 42, limit: 10, on: f.loop).get()
        #expect(snapshot.counter == 44)
        #expect(snapshot.queued.map(\.position) == [43, 44])
    }

    @Test func oneTurnsAcknowledgementsAreWrittenInOneRequest() async throws {
        let f = try await Fixture(device: "dev")
        let d = ChatStore.device("dev")
        _ = try await f.redis.send(RedisCommand("HSET", "\(d):cur", "alice~bob", "7"))
        _ = try await f.redis.send(RedisCommand("ZADD", "\(d):dirty", "9", "alice~bob", "3", "alice~carol"))
        let (a, b, c): ([UInt8], [UInt8], [UInt8]) = (Array("s|a".utf8), Array("s|b".utf8), Array("e|c".utf8))
        _ = try await f.store.enqueue([("dev", [a, b, c])], on: f.loop).get()

        // alice~bob moves to 9 (no longer dirty), alice~carol to 2 (still dirty at 3),
        // a cursor never goes back, and two of the three entries leave the queue.
        try await f.store.acknowledge(device: "dev", cursors: [("alice~bob", 9), ("alice~carol", 2), ("alice~dave", 0)],
                                      entries: [a, c], on: f.loop).get()
        #expect(try await f.redis.send(RedisCommand("HGET", "\(d):cur", "alice~bob")).string == "9")
        #expect(try await f.redis.send(RedisCommand("HGET", "\(d):cur", "alice~carol")).string == "2")
        #expect(try await f.redis.send(RedisCommand("ZSCORE", "\(d):dirty", "alice~bob")) == .null)
        #expect(try await f.redis.send(RedisCommand("ZSCORE", "\(d):dirty", "alice~carol")).string == "3")
        let left = try await f.redis.send(RedisCommand("ZRANGE", "\(d):q", "0", "-1"))
        #expect(left.array?.compactMap(\.string) == ["s|b"])
        try await f.store.acknowledge(device: "dev", cursors: [("alice~bob", 4)], entries: [], on: f.loop).get()
        #expect(try await f.redis.send(RedisCommand("HGET", "\(d):cur", "alice~bob")).string == "9")
    }
}
