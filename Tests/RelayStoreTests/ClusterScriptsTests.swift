import NIOCore
import RedisTestSupport
import RelayStore
import Testing

/// Every Lua script of the library, run against a real Redis Cluster with
/// keys and arguments as its header and the relay give them: none may touch
/// keys of two slots (Redis answers `CROSSSLOT`, or refuses an undeclared
/// key of another slot or node inside the script).
@Suite("Lua scripts on a Redis Cluster", .serialized)
struct ClusterScriptsTests {
    /// One call of a script: keys, arguments, and the error code it must end with (nil: none).
    struct Call {
        var keys: [String]
        var arguments: [any RedisArgumentConvertible]
        var expectedError: String? = nil
    }

    /// The calls, in an order where each finds what it needs (a conversation
    /// before its receipt, keys before their fetch, an outbox before its ack).
    static let calls: [(String, Call)] = {
        let now = "1700000000000"
        let meta = "{c:cv}:meta", members = "{c:cv}:members", log = "{c:cv}:log"
        let (g, d, r) = ("{c:g1}", "{d:dv}", "{r:eu}")
        return [
            ("echo_keys", Call(keys: ["{c:cv}:a"], arguments: ["x"])),
            ("fail_with", Call(keys: [], arguments: ["NOT_MEMBER x"], expectedError: "NOT_MEMBER")),
            ("send", Call(
                keys: [meta, members, log, "{c:cv}:dedup:dev:m1", "{c:cv}:pending"],
                arguments: ["{c:cv}", "alice", "dev", "m1", now, "ct", 0, 3600, 3600, "bob", 0, 1, "dev2", "ct2"])),
            ("apply_message", Call(
                keys: [meta, members, log, "{c:cv}:dedup:dev:m2"],
                arguments: ["{c:cv}", 1, 2, "alice", "dev", now, "ct", "m2", 0, 3600, 3600, "alice", "bob", "dev2", "ct2"])),
            ("conversation_settings", Call(keys: [meta, members], arguments: ["alice", 60])),
            ("receipt", Call(keys: [meta, members, "{c:cv}:read"], arguments: ["bob", 1])),
            ("conversation_state", Call(keys: [meta, members], arguments: ["direct", 1, 2, 3600, "alice", "member", "bob", "member"])),
            ("group_create", Call(keys: ["\(g):meta", "\(g):members", "\(g):order"], arguments: ["alice", now, "local", 100, "bob", "carol"])),
            ("group_change", Call(keys: ["\(g):meta", "\(g):members", "\(g):joined", "\(g):order"], arguments: ["alice", "add", 100, "", "dave"])),
            ("enqueue", Call(keys: ["\(d):q", "\(d):n", "\(d):dropped"], arguments: ["\(d):ch", 100, "m|cv|1", "m|cv|2"])),
            ("fanout", Call(keys: ["\(d):dirty", "\(d):cur"], arguments: ["\(d):ch", "cv", 2])),
            ("ack", Call(keys: ["\(d):cur", "\(d):dirty"], arguments: ["cv", 2])),
            ("rewind", Call(keys: ["\(d):cur"], arguments: ["cv", 1])),
            ("rate_limit", Call(keys: ["\(d):rl:send"], arguments: [10, 1, "", 1, 60000])),
            ("keys_upload", Call(keys: ["\(d):keys", "\(d):otk", "\(d):otk:low", "\(d):otk:used"], arguments: ["ik", "spk", "lr", 1, 1, 100, "pk1", "pk2"])),
            ("keys_fetch", Call(keys: ["\(d):keys", "\(d):otk", "\(d):otk:low"], arguments: [5])),
            ("keys_consume", Call(keys: ["\(d):otk", "\(d):otk:used"], arguments: [100, now, "pk2", "pk3"])),
            ("outbox_append", Call(keys: ["\(r):n", "\(r):out", "\(r):acked", "\(r):bytes", "\(r):broken"], arguments: [now, "r:eu", 0, 0, "frame1", "frame2"])),
            ("outbox_ack", Call(keys: ["\(r):acked", "\(r):out", "\(r):n", "\(r):bytes"], arguments: [1, "r:eu"])),
            ("outbox_reset", Call(keys: ["\(r):n", "\(r):out", "\(r):acked", "\(r):bytes", "\(r):broken"], arguments: ["r:eu"])),
            ("outbox_lease", Call(keys: ["\(r):lease"], arguments: ["node-1", "hold", 5000])),
            ("inbound_lease", Call(keys: ["r:in:eu", "{r:in:eu}:lease"], arguments: ["node-1", "hold", 5000])),
            ("replication_cursor", Call(keys: ["r:in:eu", "{r:in:eu}:lease"], arguments: [3, "node-1", 5000])),
        ]
    }()

    /// `script` with a `#!lua` shebang: Redis 7 lets a script without one
    /// (a legacy script) reach undeclared keys of other slots on the same
    /// node, and refuses that to a script declared with one (no
    /// `allow-cross-slot-keys` flag), so a key a script builds from its
    /// arguments is checked too, whichever node its slot is on.
    static func strict(_ script: RedisScript) -> RedisScript {
        RedisScript(name: script.name, source: "#!lua\n" + script.source)
    }

    /// Whether `error` says a script or command touched keys of more than one slot.
    static func isCrossSlot(_ error: RedisError) -> Bool {
        error.serverCode == "CROSSSLOT" || error.message.contains("non local key") || error.message.contains("do not hash to the same slot")
    }

    @Test func everyLibraryScriptRunsInOneSlot() async throws {
        #expect(Set(Self.calls.map(\.0)) == Set(ScriptLibrary.names), "every script needs a call here, and only they")
        let cluster = try RedisClusterProcess()
        let client = RedisClient(configuration: cluster.configuration)
        defer { client.close() }

        for (name, call) in Self.calls {
            let script = Self.strict(try ScriptLibrary.load(name))
            do {
                _ = try await client.evaluate(script, keys: call.keys, arguments: call.arguments)
                #expect(call.expectedError == nil, "\(name) should have failed with \(call.expectedError ?? "")")
            } catch let error as RedisError {
                #expect(!Self.isCrossSlot(error), "\(name) touches keys of more than one slot: \(error)")
                #expect(error.serverCode == call.expectedError, "\(name) failed: \(error)")
            }
        }

        // The check can fail: a script reaching an undeclared key of another slot is caught.
        let straying = Self.strict(RedisScript(name: "straying", source: "return redis.call('GET', ARGV[1])"))
        for other in ["a", "b", "c", "d", "e", "f"] {
            do {
                _ = try await client.evaluate(straying, keys: ["{c:cv}:meta"], arguments: ["{x:\(other)}"])
                Issue.record("a key of another slot was reached")
            } catch let error as RedisError {
                #expect(Self.isCrossSlot(error), "\(error)")
            }
        }
    }
}
