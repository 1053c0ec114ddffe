import Foundation
import NIOCore
import NIOPosix
import RedisTestSupport
@testable import RelayChat
import RelayCore
import RelayStore
import Testing

/// `send.lua` (a send's dedup, checks, sequence and store in one call)
/// against a real redis-server.
@Suite("send.lua against a real redis-server")
struct SendScriptTests {
    let server: RedisServerProcess
    let redis: RedisClient
    let store: ChatStore
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    init() throws {
        server = try RedisServerProcess()
        redis = RedisClient(configuration: server.configuration)
        store = try ChatStore(redis: redis, configuration: ChatConfiguration())
    }

    func accept(_ conversation: String, from user: String, peer: String, id: String) throws -> ChatStore.Accept {
        var send = Relay_V1_Send()
        send.clientMessageID = id
        send.ciphertext = Data([1, 2, 3])
        let validated = try ChatRouter.checkSend(send, limits: ChatConfiguration().sendLimits)
        return ChatStore.Accept(conversation: conversation, user: user, device: user + "-d", send: validated,
                                directPeer: peer, nowMilliseconds: 1_000)
    }

    func refusal(_ send: ChatStore.Accept) async -> ErrorCode? {
        do {
            _ = try await store.accept(send, on: loop).get()
            return nil
        } catch {
            return ChatError(redis: error).code
        }
    }

    @Test func aDirectConversationBeginsWithItsFirstMessageAndKeepsItsSettings() async throws {
        defer { redis.close() }
        let c = ChatStore.conversation("alice~bob")
        let first = try await store.accept(try accept("alice~bob", from: "alice", peer: "bob", id: "m1"), on: loop).get()
        #expect((first.duplicate, first.epoch, first.seq) == (false, 1, 1))
        #expect(first.ttlSeconds == UInt32(ChatConfiguration().retentionSeconds))
        let members = try await redis.send(RedisCommand("HGETALL", "\(c):members"))
        #expect(Set(members.array?.compactMap(\.string) ?? []) == ["alice", "bob", "member"])
        // Disappearing messages on: the next message is kept 60 s.
        _ = try await redis.send(RedisCommand("HSET", "\(c):meta", "ttl", "60"))
        let reply = try await store.accept(try accept("alice~bob", from: "bob", peer: "alice", id: "m2"), on: loop).get()
        #expect((reply.epoch, reply.seq, reply.ttlSeconds) == (1, 2, 60))
        let again = try await store.accept(try accept("alice~bob", from: "alice", peer: "bob", id: "m1"), on: loop).get()
        #expect((again.duplicate, again.seq) == (true, 1))
    }

    @Test func aGroupRefusesNonMembersAndAFencedConversationRefusesEveryone() async throws {
        defer { redis.close() }
        let c = ChatStore.conversation("g:team")
        _ = try await redis.send(RedisCommand("HSET", "\(c):meta", "kind", "group", "epoch", "3", "seq", "0"))
        _ = try await redis.send(RedisCommand("HSET", "\(c):members", "alice", "admin"))
        #expect(await refusal(try accept("g:team", from: "carol", peer: "", id: "c1")) == .notMember)
        let sent = try await store.accept(try accept("g:team", from: "alice", peer: "", id: "a1"), on: loop).get()
        #expect((sent.epoch, sent.seq) == (3, 1))
        _ = try await redis.send(RedisCommand("HSET", "\(c):meta", "fenced", "1"))
        #expect(await refusal(try accept("g:team", from: "alice", peer: "", id: "a2")) == .fenced)
        // A 1:1 conversation that exists and is fenced refuses too.
        _ = try await store.accept(try accept("alice~bob", from: "alice", peer: "bob", id: "d1"), on: loop).get()
        _ = try await redis.send(RedisCommand("HSET", "\(ChatStore.conversation("alice~bob")):meta", "fenced", "1"))
        #expect(await refusal(try accept("alice~bob", from: "bob", peer: "alice", id: "d2")) == .fenced)
    }
}
