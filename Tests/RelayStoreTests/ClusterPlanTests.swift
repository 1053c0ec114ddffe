import NIOCore
import RelayStore
import Testing

@Suite("Cluster routing of commands and pipelines")
struct ClusterPlanTests {
    @Test func routesByKeys() throws {
        let conversation = HashSlot(key: "{c:1}:meta")
        #expect(RedisCommand("GET", "{c:1}:meta").route == .slot(conversation))
        #expect(RedisCommand("hset", "{c:1}:meta", "f", "v").route == .slot(conversation))
        #expect(RedisCommand("DEL", "{c:1}:a", "{c:1}:b").route == .slot(conversation))
        #expect(RedisCommand("DEL", "{c:1}:a", "{c:2}:b").route == .crossSlot)
        #expect(RedisCommand("MSET", "{c:1}:a", "x", "{c:1}:b", "y").route == .slot(conversation))
        #expect(RedisCommand("MSET", "{c:1}:a", "{c:2}", "{c:1}:b", "{c:3}").route == .slot(conversation))
        #expect(RedisCommand("PING").route == .anyNode)
        #expect(RedisCommand("WAIT", 1, 100).route == .anyNode)
        #expect(RedisCommand("PUBLISH", "{c:1}:meta", "x").route == .anyNode)
        #expect(RedisCommand("SPUBLISH", "{d:x}:ch", "x").route == .slot(HashSlot(key: "{d:x}:ch")))
        // A key given as bytes hashes the same.
        #expect(RedisCommand("GET", ByteBuffer(string: "{c:1}:meta")).route == .slot(conversation))
    }

    @Test func routesScriptsByTheirDeclaredKeys() throws {
        let script = RedisScript(name: "t", source: "return 1")
        #expect(script.command(keys: ["{c:1}:a", "{c:1}:b"], arguments: ["{c:2}:x"]).route == .slot(HashSlot(key: "{c:1}")))
        #expect(script.command(keys: ["{c:1}:a", "{c:2}:b"]).route == .crossSlot)
        #expect(script.command(arguments: ["{c:2}:x"]).route == .anyNode)
        #expect(RedisCommand("EVAL", "return 1", "1", "{c:1}:a", "arg").route == .slot(HashSlot(key: "{c:1}")))
        // numkeys past the arguments, or not a number: what is there counts, or nothing.
        #expect(RedisCommand("EVALSHA", "abc", 5, "{c:1}:a").route == .slot(HashSlot(key: "{c:1}")))
        #expect(RedisCommand("EVALSHA", "abc", "x", "{c:1}:a").route == .anyNode)
        #expect(RedisCommand("EVALSHA", "abc", -1, "{c:1}:a").route == .anyNode)
    }

    /// Slot to node for the plans below: slots under 8192 on "a", the rest on "b".
    private func node(_ slot: HashSlot) -> String? { slot.value < 8192 ? "a" : "b" }

    private func slotOf(_ node: String) -> String {
        // Keys whose slot is on each node: "bar" is 5061 (a), "foo" 12182 (b).
        node == "a" ? "bar" : "foo"
    }

    @Test func splitsPerNodeKeepingOrderAndReassembles() throws {
        let commands = [
            RedisCommand("PING"),  // leading keyless: with the first keyed command
            RedisCommand("SET", "foo", "1"),  // b
            RedisCommand("SET", "bar", "2"),  // a
            RedisCommand("WAIT", 1, 100),  // with the command before: a
            RedisCommand("GET", "foo"),  // b
            RedisCommand("DEL", "foo", "bar"),  // cross-slot
            RedisCommand("GET", "{bar}x"),  // a
        ]
        let plan = ClusterPipelinePlan<String>(routes: commands.map(\.route), fallback: "z", node: self.node)
        #expect(plan.batches.map(\.node) == ["b", "a"])
        #expect(plan.batches.map(\.indices) == [[0, 1, 4], [2, 3, 6]])
        #expect(plan.refused.map(\.index) == [5])
        #expect(plan.refused.first?.error.serverCode == "CROSSSLOT")

        let results = plan.reassemble([
            [.success(.simpleString("PONG")), .success(.simpleString("OK")), .success(.bulk(ByteBuffer(string: "1")))],
            [.success(.simpleString("OK")), .success(.integer(1)), .failure(RedisError(serverReply: "ERR nope"))],
        ])
        #expect(results.count == 7)
        #expect(try results[0].get() == .simpleString("PONG"))
        #expect(try results[3].get() == .integer(1))
        #expect(try results[4].get() == .bulk(ByteBuffer(string: "1")))
        #expect(results[5].failureCode == "CROSSSLOT")
        #expect(results[6].failureCode == "ERR")
    }

    @Test func keylessRequestsGoToTheFallback() {
        let plan = ClusterPipelinePlan<String>(routes: [.anyNode, .anyNode], fallback: "z", node: self.node)
        #expect(plan.batches.map(\.node) == ["z"])
        #expect(plan.batches.map(\.indices) == [[0, 1]])
        let none = ClusterPipelinePlan<String>(routes: [.anyNode], fallback: nil, node: self.node)
        #expect(none.batches.isEmpty)
        #expect(none.reassemble([]).first?.failureCode == "CLUSTERDOWN")
    }

    @Test func slotsWithoutANodeFailUnsent() throws {
        let plan = ClusterPipelinePlan<String>(
            routes: [.slot(HashSlot(key: "foo")), .slot(HashSlot(key: "bar"))], fallback: "z",
            node: { $0.value < 8192 ? "a" : nil })
        #expect(plan.batches.map(\.node) == ["a"])
        #expect(plan.batches.map(\.indices) == [[1]])
        let results = plan.reassemble([[.success(.integer(7))]])
        #expect(results[0].failureCode == "CLUSTERDOWN")
        #expect(try results[1].get() == .integer(7))
    }

    @Test func aMissingBatchAnswerIsAProtocolFailureNotATrap() {
        let plan = ClusterPipelinePlan<String>(routes: [.slot(HashSlot(key: "foo"))], fallback: nil, node: self.node)
        let results = plan.reassemble([])
        #expect(results.count == 1)
        if case .failure(let error) = results[0] { #expect(error.kind == .protocol) } else { Issue.record("expected a failure") }
    }
}

@Suite("Cluster SCAN cursors")
struct ClusterScanCursorTests {
    @Test func walksTheMastersInTurn() {
        #expect(ClusterScanCursor("0") == .start)
        #expect(ClusterScanCursor.after(master: 0, next: "17", masterCount: 3) == "0-17")
        #expect(ClusterScanCursor("0-17")?.master == 0)
        #expect(ClusterScanCursor("0-17")?.nodeCursor == "17")
        #expect(ClusterScanCursor.after(master: 0, next: "0", masterCount: 3) == "1-0")
        #expect(ClusterScanCursor.after(master: 2, next: "0", masterCount: 3) == "0")
        #expect(ClusterScanCursor.after(master: 0, next: "0", masterCount: 1) == "0")
    }

    @Test(arguments: ["", "-", "1-", "-1", "x-1", "1-x", "1-2-3", "-1-0", "1"])
    func refusesOtherCursors(text: String) {
        #expect(ClusterScanCursor(text) == nil)
    }
}

@Suite("Subscriber counts over nodes")
struct SubscriberCountsTests {
    private func reply(_ counts: [Int64]) -> Result<RESPValue, RedisError> {
        .success(.array(counts.enumerated().flatMap { [RESPValue.bulk(ByteBuffer(string: "ch\($0.offset)")), .integer($0.element)] }))
    }

    @Test func sumsPerChannel() throws {
        let summed = SubscriberCounts.sum([self.reply([0, 1]), .failure(RedisError(.connection)), self.reply([2, 0]), self.reply([1, 1])])
        #expect(try summed.get() == self.reply([3, 2]).get())
    }

    @Test func leavesOutOddRepliesAndSaturates() throws {
        let odd = Result<RESPValue, RedisError>.success(.array([.integer(1)]))
        let summed = SubscriberCounts.sum([odd, self.reply([Int64.max]), self.reply([5]), self.reply([1, 1]), .success(.null)])
        #expect(try summed.get() == self.reply([Int64.max]).get())
    }

    @Test func allFailingIsTheFirstFailure() {
        let summed = SubscriberCounts.sum([.failure(RedisError(.timeout)), .failure(RedisError(.connection))])
        #expect(throws: RedisError(.timeout)) { try summed.get() }
        #expect(throws: RedisError.self) { try SubscriberCounts.sum([]).get() }
    }
}

extension Result<RESPValue, RedisError> {
    fileprivate var failureCode: String? {
        if case .failure(let error) = self { return error.serverCode }
        return nil
    }
}
