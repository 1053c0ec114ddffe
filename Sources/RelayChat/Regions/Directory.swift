import NIOCore
import RelayStore

/// Where users and conversations live, in this region's Redis: `dir:users`
/// (user → home region) and `dir:convs` (conversation → home region).
/// Entries are only ever added (HSETNX): a home never moves, a failover
/// changes who serves it (``RegionAuthority``). Every region holds the whole
/// directory; new entries travel to the others as `DirectoryUpdate` frames.
///
/// Because entries never change once written, the homes this node has read
/// or recorded are kept in memory (``KnownHomes``): a lookup of known users
/// costs no Redis round trip. A home not known yet is asked of Redis every
/// time (it may arrive at any moment).
struct Directory: Sendable {
    static let usersKey = "dir:users"
    static let conversationsKey = "dir:convs"

    let redis: RedisClient
    /// Homes read or recorded, by user and by conversation.
    let known: KnownHomes

    init(redis: RedisClient, known: KnownHomes = KnownHomes()) {
        self.redis = redis
        self.known = known
    }

    /// The homes of `users` that the directory knows.
    func homes(of users: [String], on loop: any EventLoop) -> EventLoopFuture<[String: String]> {
        guard !users.isEmpty else { return loop.makeSucceededFuture([:]) }
        let (found, missing) = known.users(users)
        guard !missing.isEmpty else { return loop.makeSucceededFuture(found) }
        let command = RedisCommand("HMGET", arguments: [.string(Self.usersKey)] + missing.map { .string($0) })
        return redis.send(command, on: loop).map { reply in
            var homes = found
            var read: [String: String] = [:]
            for (user, value) in zip(missing, reply.array ?? []) {
                if let home = value.string { read[user] = home }
            }
            known.learn(users: read)
            homes.merge(read) { old, _ in old }
            return homes
        }
    }

    /// The home of `conversation` (a group; 1:1 homes follow their users).
    func home(ofConversation conversation: String, on loop: any EventLoop) -> EventLoopFuture<String?> {
        if let home = known.conversation(conversation) { return loop.makeSucceededFuture(home) }
        return redis.send(RedisCommand("HGET", Self.conversationsKey, conversation), on: loop).map { reply in
            if let home = reply.string { known.learn(conversations: [conversation: home]) }
            return reply.string
        }
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
            // Only what was added here is certain: an entry that existed may hold another home.
            known.learn(users: addedUsers)
            known.learn(conversations: addedConversations)
            return (addedUsers, addedConversations)
        }
    }
}
