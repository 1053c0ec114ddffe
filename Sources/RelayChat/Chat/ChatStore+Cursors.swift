import NIOCore
import RelayCore
import RelayStore

/// Message delivery by cursor: a fan-out marks a conversation dirty for a
/// device (up to a seq); the device's pump reads the conversation log from
/// the device's cursor and moves the cursor as the device acknowledges.
/// Order within a conversation is therefore the log's order, always.
extension ChatStore {
    /// Marks `conversation` dirty up to `seq` for each device, pipelined,
    /// waking the nodes that hold them.
    func markDirty(devices: [String], conversation: String, seq: UInt64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !devices.isEmpty else { return loop.makeSucceededVoidFuture() }
        let commands = devices.map { device in
            fanoutScript.command(
                keys: ["\(Self.device(device)):dirty", "\(Self.device(device)):cur"],
                arguments: [Self.channel(device: device), conversation, Int64(clamping: seq)]
            )
        }
        return redis.pipeline(commands, on: loop).flatMapThrowing { replies in
            for (device, reply) in zip(devices, replies) {
                // 0: no node listens for the device (or nothing was marked): it may be woken by a push.
                if try reply.get().int == 0 { self.pushHook.marked(device: device) }
            }
        }
    }

    /// What a device's pump needs to plan: conversations with messages for
    /// it (and the highest seq fanned out), its cursors, and queued
    /// statuses and events after `statusAfter`.
    struct PumpSnapshot: Sendable {
        var dirty: [(conversation: String, latest: UInt64)]
        var cursors: [String: UInt64]
        var queued: [(position: Int, entry: [UInt8])]
        /// The queue's position counter, read before the entries.
        var counter: Int = 0
    }

    func snapshot(device: String, statusAfter position: Int, limit: Int, on loop: any EventLoop) -> EventLoopFuture<PumpSnapshot> {
        let d = Self.device(device)
        return redis.pipeline([
            // The counter first: every position up to it is in the entries read after, or was removed.
            RedisCommand("GET", "\(d):n"),
            RedisCommand("ZRANGE", "\(d):dirty", "0", "-1", "WITHSCORES"),
            RedisCommand("HGETALL", "\(d):cur"),
            RedisCommand("ZRANGEBYSCORE", "\(d):q", "(\(position)", "+inf", "WITHSCORES", "LIMIT", "0", "\(limit)"),
        ], on: loop).flatMapThrowing { replies in
            func pairs(_ reply: Result<RESPValue, RedisError>) throws -> [(RESPValue, RESPValue)] {
                let values = try reply.get().array ?? []
                return stride(from: 0, to: values.count - 1, by: 2).map { (values[$0], values[$0 + 1]) }
            }
            let counter = try replies[0].get().string.flatMap { Int($0) } ?? 0
            let dirty = try pairs(replies[1]).compactMap { name, score -> (String, UInt64)? in
                guard let name = name.string, let seq = score.string.flatMap({ Double($0) }).flatMap({ UInt64(exactly: $0) }),
                      seq <= Seq.maximum
                else { return nil }
                return (name, seq)
            }
            var cursors: [String: UInt64] = [:]
            for (name, seq) in try pairs(replies[2]) {
                if let name = name.string, let seq = Self.storedSeq(seq.string) { cursors[name] = seq }
            }
            let queued = try pairs(replies[3]).compactMap { entry, score -> (Int, [UInt8])? in
                guard let entry = entry.bytes, let position = score.string.flatMap({ Double($0) }).flatMap({ Int(exactly: $0) }) else { return nil }
                return (position, entry)
            }
            return PumpSnapshot(dirty: dirty, cursors: cursors, queued: queued, counter: counter)
        }
    }

    /// Where `user` starts reading each conversation: the seq when it
    /// joined (0 for 1:1 conversations and a group's founders).
    func joined(user: String, conversations: [String], on loop: any EventLoop) -> EventLoopFuture<[String: UInt64]> {
        guard !conversations.isEmpty else { return loop.makeSucceededFuture([:]) }
        let commands = conversations.map { RedisCommand("HGET", "\(Self.conversation($0)):joined", user) }
        return redis.pipeline(commands, on: loop).flatMapThrowing { replies in
            // A failed read fails the call: read as 0, a member would get the group's history from before it joined.
            var joined: [String: UInt64] = [:]
            for (conversation, reply) in zip(conversations, replies) {
                joined[conversation] = Self.storedSeq(try reply.get().string) ?? 0
            }
            return joined
        }
    }

    /// Seqs of each conversation's log in (after, upTo], at most `limit` each.
    func logRanges(_ ranges: [(conversation: String, after: UInt64, upTo: UInt64)], limit: Int, on loop: any EventLoop) -> EventLoopFuture<[[UInt64]]> {
        guard !ranges.isEmpty else { return loop.makeSucceededFuture([]) }
        let commands = ranges.map {
            RedisCommand("ZRANGEBYSCORE", "\(Self.conversation($0.conversation)):log", "(\($0.after)", "\($0.upTo)", "LIMIT", "0", "\(limit)")
        }
        return redis.pipeline(commands, on: loop).flatMapThrowing { replies in
            // A failed read fails the call: read as an empty range, the pump would step over its messages.
            try replies.map { reply in
                (try reply.get().array ?? []).compactMap { $0.string.flatMap { UInt64($0) } }
            }
        }
    }

    /// The device has everything of `conversation` up to `seq`.
    func acknowledge(device: String, conversation: String, seq: UInt64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let d = Self.device(device)
        return redis.send(ackScript.command(keys: ["\(d):cur", "\(d):dirty"], arguments: [conversation, Int64(clamping: seq)]), on: loop).map { _ in }
    }

    /// Puts `device`'s cursor in every conversation of `user` at its latest
    /// seq: a new device starts at the present (what came before was not
    /// encrypted for it; `q/history.sync` and the user's other devices have
    /// it). Without this, the next message of a conversation would make the
    /// device read it from the start (1:1) or from the user's join (groups).
    func startAtPresent(device: String, user: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(RedisCommand("SMEMBERS", "\(Self.user(user)):convs"), on: loop).flatMap { reply in
            let conversations = (reply.array ?? []).compactMap(\.string).filter { ConversationID(rawValue: $0) != nil }
            guard !conversations.isEmpty else { return loop.makeSucceededVoidFuture() }
            let reads = conversations.map { RedisCommand("HGET", "\(Self.conversation($0)):meta", "seq") }
            return self.redis.pipeline(reads, on: loop).flatMap { replies in
                var cursors: [RedisArgument] = []
                for (conversation, reply) in zip(conversations, replies) {
                    guard let seq = Self.storedSeq((try? reply.get())?.string), seq > 0 else { continue }
                    cursors.append(.string(conversation))
                    cursors.append(.string("\(seq)"))
                }
                guard !cursors.isEmpty else { return loop.makeSucceededVoidFuture() }
                return self.redis.send(RedisCommand("HSET", arguments: [.string("\(Self.device(device)):cur")] + cursors), on: loop).map { _ in }
            }
        }
    }

    /// A seq read back from Redis, 0 through ``Seq/maximum``; nil for
    /// anything else (what Redis holds is parsed, never trusted).
    static func storedSeq(_ text: String?) -> UInt64? {
        guard let value = text.flatMap({ UInt64($0) }), value <= Seq.maximum else { return nil }
        return value
    }
}
