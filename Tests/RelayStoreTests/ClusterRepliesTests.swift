import NIOCore
import RelayStore
import Testing

@Suite("Cluster replies")
struct ClusterRepliesTests {
    private func node(_ host: RESPValue, _ port: Int64, _ id: String) -> RESPValue {
        .array([host, .integer(port), .bulk(ByteBuffer(string: id)), .array([])])
    }

    private func bulk(_ text: String) -> RESPValue { .bulk(ByteBuffer(string: text)) }

    @Test func slotsReplyOfThreeShards() throws {
        // The shape redis-server 7.0 answers CLUSTER SLOTS with (metadata map after the id).
        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), node(bulk("127.0.0.1"), 7000, "a"), node(bulk("127.0.0.1"), 7004, "d")]),
            .array([.integer(5461), .integer(10922), node(bulk("127.0.0.1"), 7001, "b"), node(bulk("127.0.0.1"), 7005, "e")]),
            .array([.integer(10923), .integer(16383), node(bulk("127.0.0.1"), 7002, "c"), node(bulk("127.0.0.1"), 7003, "f")]),
        ])
        let map = try ClusterSlotsReply.parse(reply, queriedHost: "127.0.0.1")
        #expect(map.coversEverySlot)
        #expect(map.masters.map(\.port) == [7000, 7001, 7002])
        #expect(map.shards[2].replicas.map(\.port) == [7003])
        #expect(map.master(for: HashSlot(5460)!)?.port == 7000)
        #expect(map.master(for: HashSlot(5461)!)?.port == 7001)
        #expect(map.master(for: HashSlot(key: "foo"))?.port == 7002)  // slot 12182
        #expect(map.nodes.count == 6)
    }

    @Test func slotsReplyWithSplitRangesAndOddEndpoints() throws {
        let reply = RESPValue.array([
            // One master serving two ranges (after a reshard), endpoint null: the queried host.
            .array([.integer(0), .integer(99), node(.null, 7000, "a")]),
            .array([.integer(200), .integer(299), node(bulk(""), 7000, "a"), node(bulk("?"), 7009, "x")]),
            // An unknown master endpoint: the range is left unserved.
            .array([.integer(100), .integer(199), node(bulk("?"), 7001, "b")]),
        ])
        let map = try ClusterSlotsReply.parse(reply, queriedHost: "10.0.0.5")
        #expect(map.shards.count == 1)
        #expect(map.master(for: HashSlot(250)!) == RedisNodeAddress(host: "10.0.0.5", port: 7000))
        #expect(map.shards[0].replicas.isEmpty)
        #expect(map.master(for: HashSlot(150)!) == nil)
        #expect(map.servedSlotCount == 200)
        #expect(!map.coversEverySlot)
    }

    @Test(arguments: [
        RESPValue.simpleString("OK"),
        .array([.integer(0)]),
        .array([.array([.integer(5), .integer(1), .array([bulkValue("h"), .integer(1)])])]),  // range backwards
        .array([.array([.integer(0), .integer(16384), .array([bulkValue("h"), .integer(1)])])]),  // past the last slot
        .array([.array([.integer(0), .integer(1), .array([bulkValue("h"), .integer(70000)])])]),  // port out of range
        .array([.array([.integer(0), .integer(1), .array([bulkValue("h"), bulkValue("x")])])]),  // port not an integer
        .array([.array([.integer(0), .integer(1), .array([.integer(3), .integer(1)])])]),  // endpoint not a string
        .array([.array([.integer(0), .integer(1), .integer(7)])]),  // node not an array
    ])
    func malformedSlotsRepliesAreRefused(reply: RESPValue) {
        #expect(throws: ClusterSlotsReply.Malformed.self) { try ClusterSlotsReply.parse(reply, queriedHost: "h") }
    }

    @Test func redirects() throws {
        let moved = try #require(ClusterRedirect(RedisError(serverReply: "MOVED 3999 127.0.0.1:6381"), queriedHost: "x"))
        #expect(moved.kind == .moved)
        #expect(moved.slot == HashSlot(3999))
        #expect(moved.target == RedisNodeAddress(host: "127.0.0.1", port: 6381))
        let ask = try #require(ClusterRedirect(RedisError(serverReply: "ASK 12182 10.1.2.3:7002"), queriedHost: "x"))
        #expect(ask.kind == .ask)
        #expect(ask.slot == HashSlot(12182))
        #expect(ask.target == RedisNodeAddress(host: "10.1.2.3", port: 7002))
        // Redis 7 may leave the endpoint out: the node asked is meant.
        let bare = try #require(ClusterRedirect(RedisError(serverReply: "MOVED 1 :7005"), queriedHost: "127.0.0.1"))
        #expect(bare.target == RedisNodeAddress(host: "127.0.0.1", port: 7005))
        for text in ["MOVED", "MOVED 3999", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "ASK 1 h:1 extra", "ERR 1 h:1", "CROSSSLOT Keys"] {
            #expect(ClusterRedirect(RedisError(serverReply: text), queriedHost: "h") == nil, "\(text)")
        }
        #expect(ClusterRedirect(RedisError(.connection, message: "1 h:1"), queriedHost: "h") == nil)
    }

    @Test func movedUpdatesOneSlot() throws {
        var map = ClusterSlotMap()
        let a = try #require(RedisNodeAddress("h:1"))
        let b = try #require(RedisNodeAddress("h:2"))
        map.assign(0...16_383, to: .init(master: a))
        let moved = map.moving(try #require(HashSlot(42)), to: b)
        #expect(moved.master(for: HashSlot(42)!) == b)
        #expect(moved.master(for: HashSlot(41)!) == a)
        #expect(moved.master(for: HashSlot(43)!) == a)
        #expect(map.master(for: HashSlot(42)!) == a)
    }
}

private func bulkValue(_ text: String) -> RESPValue { .bulk(ByteBuffer(string: text)) }
