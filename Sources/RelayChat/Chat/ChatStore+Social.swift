import NIOCore
import RelayCore
import RelayStore

/// Receipts, presence, history, privacy and device management in Redis.
extension ChatStore {
    // MARK: - Read receipts

    /// Moves `user`'s read marker in `conversation` to `seq`; true when it moved.
    func markRead(conversation: String, user: String, seq: Seq, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let c = Self.conversation(conversation)
        let command = receiptScript.command(keys: ["\(c):meta", "\(c):members", "\(c):read"], arguments: [user, seq.int64])
        return redis.send(command, on: loop).map { reply in
            reply.array?.first?.int == 1
        }.flatMapErrorThrowing { throw ChatError(redis: $0) }
    }

    // MARK: - Privacy

    /// Users whose read receipts are on (the default), of `users`.
    func readReceiptsOn(_ users: [String], on loop: any EventLoop) -> EventLoopFuture<Set<String>> {
        guard !users.isEmpty else { return loop.makeSucceededFuture([]) }
        let commands = users.map { RedisCommand("HGET", "\(Self.user($0)):privacy", "read_receipts") }
        return redis.pipeline(commands, on: loop).map { replies in
            Set(zip(users, replies).compactMap { user, reply in
                (try? reply.get())?.string == "0" ? nil : user
            })
        }
    }

    /// Whether `user` shows last seen (the default).
    func showsLastSeen(_ user: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        redis.send(RedisCommand("HGET", "\(Self.user(user)):privacy", "last_seen"), on: loop).map { $0.string != "nobody" }
    }

    /// Sets the given privacy fields.
    func setPrivacy(user: String, readReceipts: Bool?, lastSeen: String?, on loop: any EventLoop) -> EventLoopFuture<Void> {
        var arguments: [RedisArgument] = [.string("\(Self.user(user)):privacy")]
        if let readReceipts { arguments += [.string("read_receipts"), .string(readReceipts ? "1" : "0")] }
        if let lastSeen { arguments += [.string("last_seen"), .string(lastSeen)] }
        guard arguments.count > 1 else { return loop.makeSucceededVoidFuture() }
        return redis.send(RedisCommand("HSET", arguments: arguments), on: loop).map { _ in }
    }

    // MARK: - Conversation settings

    /// Sets the disappearing-messages TTL of a conversation (0: off).
    func setConversationTTL(_ conversation: String, user: String, seconds: UInt32, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let c = Self.conversation(conversation)
        let command = conversationSettingsScript.command(keys: ["\(c):meta", "\(c):members"], arguments: [user, Int64(seconds)])
        return redis.send(command, on: loop).map { _ in }.flatMapErrorThrowing { throw ChatError(redis: $0) }
    }

    // MARK: - Conversations of a user (presence visibility)

    /// Records that `users` are in `conversation` (or left it).
    func noteMembership(users: [String], conversation: String, member: Bool, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !users.isEmpty else { return loop.makeSucceededVoidFuture() }
        let commands = users.map { RedisCommand(member ? "SADD" : "SREM", "\(Self.user($0)):convs", conversation) }
        return redis.pipeline(commands, on: loop).map { _ in }
    }

    /// Whether two users share a conversation.
    func shareConversation(_ a: String, _ b: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        if a == b { return loop.makeSucceededFuture(true) }
        return redis.pipeline([RedisCommand("SMEMBERS", "\(Self.user(a)):convs"), RedisCommand("SMEMBERS", "\(Self.user(b)):convs")], on: loop).map { replies in
            let first = Set((try? replies[0].get())?.array?.compactMap(\.string) ?? [])
            let second = (try? replies[1].get())?.array?.compactMap(\.string) ?? []
            return second.contains { first.contains($0) }
        }
    }

    // MARK: - Presence

    /// Marks a device online until `expiresAt` (ms): refreshed while
    /// connected, so a node that dies leaves its devices to time out.
    func markOnline(user: String, device: String, until expiresAt: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let key = "\(Self.user(user)):online"
        return redis.pipeline([
            RedisCommand("ZADD", key, expiresAt, device),
            RedisCommand("PEXPIREAT", key, expiresAt),
        ], on: loop).map { _ in }
    }

    /// Marks a device offline and records the user's last seen.
    func markOffline(user: String, device: String, now: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.pipeline([
            RedisCommand("ZREM", "\(Self.user(user)):online", device),
            RedisCommand("SET", "\(Self.user(user)):lastseen", now),
        ], on: loop).map { _ in }
    }

    /// A user's presence: online when a device's mark has not expired.
    func presence(of user: String, now: Int64, on loop: any EventLoop) -> EventLoopFuture<(online: Bool, lastSeen: Int64)> {
        redis.pipeline([
            RedisCommand("ZCOUNT", "\(Self.user(user)):online", "(\(now)", "+inf"),
            RedisCommand("GET", "\(Self.user(user)):lastseen"),
        ], on: loop).map { replies in
            let online = ((try? replies[0].get())?.int ?? 0) > 0
            let lastSeen = (try? replies[1].get())?.string.flatMap { Int64($0) } ?? 0
            return (online, lastSeen)
        }
    }

    /// Sends a small payload to whichever node listens on a channel.
    func publish(channel: String, payload: [UInt8], on loop: any EventLoop) -> EventLoopFuture<Int> {
        redis.send(RedisCommand("SPUBLISH", channel, payload), on: loop).map { $0.int ?? 0 }
    }

    /// Publishes to many channels at once.
    func publish(_ messages: [(channel: String, payload: [UInt8])], on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !messages.isEmpty else { return loop.makeSucceededVoidFuture() }
        return redis.pipeline(messages.map { RedisCommand("SPUBLISH", $0.channel, $0.payload) }, on: loop).map { _ in }
    }

    // MARK: - History

    /// Seqs of `conversation` after `seq`, at most `limit`, and whether more follow.
    func history(conversation: String, after seq: UInt64, limit: Int, on loop: any EventLoop) -> EventLoopFuture<(seqs: [UInt64], more: Bool)> {
        let command = RedisCommand("ZRANGEBYSCORE", "\(Self.conversation(conversation)):log", "(\(seq)", "+inf", "LIMIT", "0", "\(limit + 1)")
        return redis.send(command, on: loop).map { reply in
            let seqs = (reply.array ?? []).compactMap { $0.string.flatMap { UInt64($0) } }
            return (Array(seqs.prefix(limit)), seqs.count > limit)
        }
    }

    // MARK: - Devices

    /// Whether a device was removed (revoked) by its user.
    func isRevoked(user: String, device: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        redis.send(RedisCommand("SISMEMBER", "\(Self.user(user)):revoked", device), on: loop).map { $0.int == 1 }
    }

    /// Removes one of `user`'s devices: it may not connect again until
    /// linked, and its queue goes. False (and nothing changes) when the
    /// device is not one of the user's.
    func removeDevice(user: String, device: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        redis.send(RedisCommand("SREM", "\(Self.user(user)):devices", device), on: loop).flatMap { reply -> EventLoopFuture<Bool> in
            guard reply.int == 1 else { return loop.makeSucceededFuture(false) }
            return self.redis.pipeline([
                RedisCommand("SADD", "\(Self.user(user)):revoked", device),
                RedisCommand("DEL", "\(Self.device(device)):q", "\(Self.device(device)):n", "\(Self.device(device)):dropped"),
            ], on: loop).map { _ in true }
        }
    }

    /// Links (or re-admits a removed) device of `user`, within the per-user
    /// limit; never a device id registered to another user.
    func linkDevice(user: String, device: String, on loop: any EventLoop) -> EventLoopFuture<DeviceRegistration> {
        register(device: device, user: user, on: loop).flatMap { outcome -> EventLoopFuture<DeviceRegistration> in
            guard outcome == .registered else { return loop.makeSucceededFuture(outcome) }
            return self.redis.send(RedisCommand("SREM", "\(Self.user(user)):revoked", device), on: loop).map { _ in .registered }
        }
    }
}
