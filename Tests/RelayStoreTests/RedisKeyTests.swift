import RelayStore
import Testing

@Suite("Redis key names")
struct RedisKeyTests {
    @Test func keysCarryTheirHashTag() {
        #expect(RedisKey.conversationSequence("42") == "{c:42}:seq")
        #expect(RedisKey.conversationLog("42") == "{c:42}:log")
        #expect(RedisKey.deviceQueue("d7") == "{d:d7}:q")
        #expect(RedisKey.deviceChannel("d7") == "{d:d7}:ch")
        #expect(RedisKey.userDevices("alice") == "{u:alice}:devices")
        #expect(RedisKey.conversation("42", "pending") == "{c:42}:pending")
        #expect(RedisKey.conversationTag("42") == "{c:42}")
    }
}
