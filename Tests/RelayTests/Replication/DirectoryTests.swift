import NIOCore
import NIOPosix
import RedisTestSupport
@testable import RelayChat
import RelayStore
import Testing

/// The directory against a real redis-server: homes read or recorded once
/// are answered from memory afterwards (they never change); homes not known
/// are asked every time.
@Suite("Directory and its known homes")
struct DirectoryTests {
    @Test func knownHomesAreAnsweredWithoutRedisAndUnknownOnesAreAskedAgain() async throws {
        let server = try RedisServerProcess()
        let redis = RedisClient(configuration: server.configuration)
        defer { redis.close() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let directory = Directory(redis: redis)
        _ = try await redis.send(RedisCommand("HSET", Directory.usersKey, "alice", "us-east"))

        #expect(try await directory.homes(of: ["alice", "bob"], on: loop).get() == ["alice": "us-east"])
        #expect(directory.known.counts.users == 1)
        // Redis changes behind the node's back (it never does in a deployment):
        // alice is answered from memory, bob, unknown before, is read now.
        _ = try await redis.send(RedisCommand("HSET", Directory.usersKey, "alice", "elsewhere", "bob", "eu-west"))
        #expect(try await directory.homes(of: ["alice", "bob"], on: loop).get() == ["alice": "us-east", "bob": "eu-west"])

        // Recording: what this call added is known; what existed with another home is not taken from the call.
        let added = try await directory.record(users: ["carol": "ap-south", "bob": "us-east"], conversations: ["g:1": "eu-west"], on: loop).get()
        #expect(added.users == ["carol": "ap-south"] && added.conversations == ["g:1": "eu-west"])
        _ = try await redis.send(RedisCommand("DEL", Directory.usersKey, Directory.conversationsKey))
        #expect(try await directory.homes(of: ["bob", "carol"], on: loop).get() == ["bob": "eu-west", "carol": "ap-south"])
        #expect(try await directory.home(ofConversation: "g:1", on: loop).get() == "eu-west")
        #expect(try await directory.home(ofConversation: "g:2", on: loop).get() == nil)
    }

    @Test func pastItsCapacityTheMemoryStartsOver() {
        let known = KnownHomes(capacity: 2)
        known.learn(users: ["a": "x", "b": "y"])
        #expect(known.users(["a", "b"]).missing.isEmpty)
        known.learn(users: ["c": "z"])
        #expect(known.users(["a", "b", "c"]).found == ["c": "z"])
        #expect(known.users(["a", "b", "c"]).missing == ["a", "b"])
    }
}
