import NIOCore
@testable import RelayStore
import Testing

@Suite("When a cluster write waits for a replica")
struct ReplicaAcksTests {
    private let node = RedisNodeAddress(host: "127.0.0.1", port: 7000)!
    private let other = RedisNodeAddress(host: "127.0.0.1", port: 7001)!

    @Test func writesWaitReadsDoNot() {
        let acks = ReplicaAcks(replicas: 1, timeout: .milliseconds(250))
        let now = NIODeadline.now()
        let script = RedisScript(name: "s", source: "return 1")
        #expect(acks.wait(after: [RedisCommand("GET", "k"), RedisCommand("hgetall", "h")], to: self.node, now: now) == nil)
        #expect(acks.wait(after: [RedisCommand("GET", "k"), RedisCommand("SET", "k", "v")], to: self.node, now: now)
            == RedisCommand("WAIT", 1, 250))
        #expect(acks.wait(after: [script.command(keys: ["k"])], to: self.node, now: now) != nil)
        #expect(acks.wait(after: [RedisCommand("PUBLISH", "c", "m")], to: self.node, now: now) == nil)
        #expect(ReplicaAcks(replicas: 0, timeout: .seconds(1)).wait(after: [RedisCommand("SET", "k", "v")], to: self.node, now: now) == nil)
    }

    @Test func aShortfallDegradesThatMasterForAWhile() {
        var acks = ReplicaAcks(replicas: 1, timeout: .milliseconds(250), degradedFor: .seconds(5))
        let now = NIODeadline.now()
        let write = [RedisCommand("SET", "k", "v")]
        let short1 = acks.answered(.success(.integer(1)), from: self.node, now: now)
        #expect(!short1)
        let short2 = acks.answered(.success(.integer(0)), from: self.node, now: now)
        #expect(short2)
        #expect(acks.wait(after: write, to: self.node, now: now + .seconds(1)) == nil)
        #expect(acks.wait(after: write, to: self.other, now: now + .seconds(1)) != nil)
        #expect(acks.wait(after: write, to: self.node, now: now + .seconds(5)) != nil)
        // An error or a reply that is not a count falls short too; a full answer ends the degradation.
        let short3 = acks.answered(.failure(RedisError(.timeout)), from: self.node, now: now)
        #expect(short3)
        let short4 = acks.answered(.success(.simpleString("OK")), from: self.node, now: now)
        #expect(short4)
        let short5 = acks.answered(.success(.integer(2)), from: self.node, now: now)
        #expect(!short5)
        #expect(acks.wait(after: write, to: self.node, now: now) != nil)
    }
}
