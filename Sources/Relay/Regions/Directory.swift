import NIOCore
import RelayStore

/// Where users and conversations live, in this region's Redis: `dir:users`
/// (user → home region) and `dir:convs` (conversation → home region).
/// Entries are only ever added (HSETNX): a home never moves, a failover
/// changes who serves it (``RegionAuthority``). Every region holds the whole
/// directory; new entries travel to the others as `DirectoryUpdate` frames.
struct Directory: Sendable {
    static let usersKey = "dir:users"
    static let conversationsKey = "dir:convs"

    let redis: RedisClient

    /// The homes of `users` that the directory knows.
    func homes(of users: [String], on loop: any EventLoop) -> EventLoopFuture<[String: String]> {
        guard !users.isEmpty else { return loop.makeSucceededFuture([:]) }
        let command = RedisCommand("HMGET", arguments: [.string(Self.usersKey)] + users.map { .string($0) })
        return redis.send(command, on: loop).map { reply in
            var homes: [String: String] = [:]
            for (user, value) in zip(users, reply.array ?? []) {
                if let home = value.string { homes[user] = home }
            }
            return homes
        }
    }

    /// The home of `conversation` (a group; 1:1 homes follow their users).
    func home(ofConversation conversation: String, on loop: any EventLoop) -> EventLoopFuture<String?> {
        redis.send(RedisCommand("HGET", Self.conversationsKey, conversation), on: loop).map { $0.string }
    }

    /// Records homes that are not known yet; returns the ones it added.
    func record(users: [String: String], conversations: [String: String], on loop: any EventLoop) -> EventLoopFuture<(users: [String: String], conversations: [String: String])> {
        let userItems = users.sorted { $0.key < $1.key }
        let conversationItems = conversations.sorted { $0.key < $1.key }
        let commands = userItems.map { RedisCommand("HSETNX", Self.usersKey, $0.key, $0.value) }
            + conversationItems.map { RedisCommand("HSETNX", Self.conversationsKey, $0.key, $0.value) }
        guard !commands.isEmpty else { return loop.makeSucceededFuture(([:], [:])) }
        return redis.pipeline(commands, on: loop).map { replies in
            var addedUsers: [String: String] = [:]
            var addedConversations: [String: String] = [:]
            for (i, reply) in replies.enumerated() where (try? reply.get())?.int == 1 {
                if i < userItems.count {
                    addedUsers[userItems[i].key] = userItems[i].value
                } else {
                    let item = conversationItems[i - userItems.count]
                    addedConversations[item.key] = item.value
                }
            }
            return (addedUsers, addedConversations)
        }
    }
}
