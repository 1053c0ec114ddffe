import RelayStore
import Testing

@Suite("Cluster hash slots")
struct ClusterSlotTests {
    @Test func crc16MatchesTheSpecificationsTestValue() {
        // Redis Cluster specification, appendix A: CRC16 of "123456789" is 0x31C3.
        #expect(HashSlot(key: "123456789").value == 0x31C3)
    }

    /// Slots as `redis-cli CLUSTER KEYSLOT` printed them on redis-server 7.0.15.
    @Test(arguments: [
        ("foo", 12182), ("bar", 5061), ("{user1000}.following", 3443), ("{user1000}.followers", 3443),
        ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061), ("{c:42}:meta", 7978),
        ("{d:d7}:q", 4125), ("r:us-east", 4029), ("{r:us-east}:out", 4029), ("", 0), ("a{b", 13340),
    ])
    func slotsMatchRedis(key: String, slot: Int) {
        #expect(HashSlot(key: key) == HashSlot(slot))
    }

    @Test func hashTags() {
        func tag(_ key: String) -> String? { HashSlot.hashTag(of: Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) } }
        #expect(tag("{c:42}:meta") == "c:42")
        #expect(tag("foo{}{bar}") == nil)  // an empty first tag: the whole key is hashed
        #expect(tag("foo{{bar}}zap") == "{bar")
        #expect(tag("foo{bar}{zap}") == "bar")
        #expect(tag("no tag") == nil)
        #expect(tag("open{only") == nil)
        #expect(tag("}{x}") == "x")
    }

    @Test func slotNumbersAreChecked() {
        #expect(HashSlot(0)?.value == 0)
        #expect(HashSlot(16_383)?.value == 16_383)
        #expect(HashSlot(16_384) == nil)
        #expect(HashSlot(-1) == nil)
    }

    @Test func keysOfOneConversationShareASlot() {
        let keys = ["meta", "members", "log", "pending", "dedup:d1:m1"].map { RedisKey.conversation("c9", $0) }
        #expect(Set(keys.map { HashSlot(key: $0) }).count == 1)
        #expect(HashSlot(key: RedisKey.deviceChannel("d1")) == HashSlot(key: RedisKey.deviceQueue("d1")))
    }

    @Test func nodeAddresses() {
        #expect(RedisNodeAddress("127.0.0.1:7000") == RedisNodeAddress(host: "127.0.0.1", port: 7000))
        #expect(RedisNodeAddress("127.0.0.1:7000@17000") == RedisNodeAddress(host: "127.0.0.1", port: 7000))
        #expect(RedisNodeAddress("[::1]:7001") == RedisNodeAddress(host: "::1", port: 7001))
        #expect(RedisNodeAddress("::1:7001") == RedisNodeAddress(host: "::1", port: 7001))
        #expect(RedisNodeAddress("127.0.0.1") == nil)
        #expect(RedisNodeAddress(":7000") == nil)
        #expect(RedisNodeAddress("h:0") == nil)
        #expect(RedisNodeAddress("h:65536") == nil)
        #expect(RedisNodeAddress("h:99999999999999999999999") == nil)
    }
}
