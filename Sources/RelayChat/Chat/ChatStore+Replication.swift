import Foundation
import NIOCore
import RelayCore
import RelayStore

/// What the replication stream reads from and writes to a region's Redis:
/// messages as frames, other regions' messages into this region's copy of a
/// conversation, conversation state, and mirrored device queues.
extension ChatStore {
    /// A conversation's kind, epoch, seq and disappearing TTL.
    struct ConversationMeta: Sendable {
        var kind = "group"
        var epoch: UInt32 = 1
        var seq: UInt64 = 0
        var ttlSeconds: UInt32 = 0
    }

    func conversationMeta(_ conversation: String, on loop: any EventLoop) -> EventLoopFuture<ConversationMeta> {
        redis.send(RedisCommand("HMGET", "\(Self.conversation(conversation)):meta", "kind", "epoch", "seq", "ttl"), on: loop).map { reply in
            let fields = reply.array ?? []
            var meta = ConversationMeta()
            if fields.count == 4 {
                meta.kind = fields[0].string ?? meta.kind
                meta.epoch = fields[1].string.flatMap { UInt32($0) } ?? meta.epoch
                meta.seq = fields[2].string.flatMap { UInt64($0) } ?? 0
                meta.ttlSeconds = fields[3].string.flatMap { UInt32($0) } ?? 0
            }
            return meta
        }
    }

    /// A stored message as a frame body (every ciphertext, the time it has
    /// left), or nil when it expired.
    func replicatedMessage(conversation: String, seq: UInt64, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_ReplicatedMessage?> {
        let key = "\(Self.conversation(conversation)):m:\(seq)"
        return redis.pipeline([
            RedisCommand("HMGET", key, "u", "d", "t", "c", "cm", "r", "e"),
            RedisCommand("HGETALL", "\(key):x"),
            RedisCommand("TTL", key),
        ], on: loop).flatMapThrowing { replies in
            // A read that failed fails the call: read as "expired", the fan-out would finish marking nobody.
            let read = try replies.map { try $0.get() }
            guard read.count == 3, let fields = read[0].array, fields.count == 7, let user = fields[0].string else { return nil }
            var m = Relay_V1_ReplicatedMessage()
            m.conversation = conversation
            m.seq = seq
            m.user = user
            m.device = fields[1].string ?? ""
            m.timeMs = fields[2].string.flatMap { Int64($0) } ?? 0
            m.ciphertext = Data(fields[3].bytes ?? [])
            m.clientMessageID = fields[4].string ?? ""
            m.replyToSeq = fields[5].string.flatMap { UInt64($0) } ?? 0
            m.epoch = fields[6].string.flatMap { UInt32($0) } ?? 1
            let pairs = read[1].array ?? []
            for i in stride(from: 0, to: pairs.count - 1, by: 2) {
                if let device = pairs[i].string, let bytes = pairs[i + 1].bytes { m.deviceCiphertexts[device] = Data(bytes) }
            }
            let ttl = read[2].int ?? -1
            m.ttlSeconds = ttl > 0 ? UInt32(clamping: ttl) : UInt32(clamping: self.configuration.retentionSeconds)
            return m
        }
    }

    /// Outcome of storing another region's message.
    enum AppliedMessage: Sendable, Equatable {
        /// Stored (or already there); `rewound` when it starts a new epoch
        /// here, `created` when it is the conversation's first here.
        case applied(rewound: Bool, created: Bool)
        /// This region knows a higher epoch of the conversation.
        case stale
    }

    /// Stores a message sequenced elsewhere in this region's copy of its conversation.
    func applyMessage(_ m: Relay_V1_ReplicatedMessage, on loop: any EventLoop) -> EventLoopFuture<AppliedMessage> {
        let c = Self.conversation(m.conversation)
        let direct = (try? ConversationID(validating: m.conversation))?.directUsers
        var arguments: [RedisArgument] = [
            .string(c), .integer(Int64(m.epoch)), .integer(Int64(clamping: m.seq)), .string(m.user), .string(m.device),
            .integer(m.timeMs), .bytes(ByteBuffer(bytes: m.ciphertext)), .string(m.clientMessageID),
            .integer(Int64(clamping: m.replyToSeq)), .integer(Int64(max(1, min(Int(m.ttlSeconds), configuration.retentionSeconds)))),
            .integer(Int64(configuration.dedupSeconds)),
            .string(direct?.first.rawValue ?? ""), .string(direct?.second.rawValue ?? ""),
        ]
        for (device, ciphertext) in m.deviceCiphertexts.sorted(by: { $0.key < $1.key }) {
            arguments.append(.string(device))
            arguments.append(.bytes(ByteBuffer(bytes: ciphertext)))
        }
        let keys = ["\(c):meta", "\(c):members", "\(c):log", "\(c):dedup:\(m.device):\(m.clientMessageID)"]
        return redis.send(applyMessageScript.command(keys: keys, arguments: arguments), on: loop).flatMapThrowing { reply in
            guard let values = reply.array, values.count == 3, let outcome = values[0].int else {
                throw ChatError.storeReply("apply_message.lua answered \(reply)")
            }
            return outcome < 0 ? .stale : .applied(rewound: values[1].int == 1, created: values[2].int == 1)
        }
    }

    /// Moves back the cursors of `devices` in `conversation` to before `seq`.
    func rewind(devices: [String], conversation: String, to seq: UInt64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !devices.isEmpty else { return loop.makeSucceededVoidFuture() }
        let commands = devices.map {
            rewindScript.command(keys: ["\(Self.device($0)):cur"], arguments: [RedisArgument.string(conversation), RedisArgument.integer(Int64(clamping: seq))])
        }
        return redis.pipeline(commands, on: loop).map { _ in }
    }

    /// Takes a conversation's state from the region that sequences it.
    func applyConversationState(_ state: Relay_V1_ConversationState, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let c = Self.conversation(state.conversation)
        var arguments: [RedisArgument] = [.string(state.kind.isEmpty ? "group" : state.kind), .integer(Int64(state.epoch)), .integer(Int64(clamping: state.seq)), .integer(Int64(state.ttlSeconds))]
        for (user, role) in state.members.sorted(by: { $0.key < $1.key }) {
            arguments.append(.string(user))
            arguments.append(.string(role))
        }
        return redis.send(conversationStateScript.command(keys: ["\(c):meta", "\(c):members"], arguments: arguments), on: loop).map { _ in }
    }

    /// Mirror: a device's registration or removal.
    func applyDevice(user: String, device: String, removed: Bool, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let u = Self.user(user)
        let commands = removed
            ? [RedisCommand("SREM", "\(u):devices", device), RedisCommand("SADD", "\(u):revoked", device)]
            : [RedisCommand("SETNX", "\(Self.device(device)):owner", user), RedisCommand("SADD", "\(u):devices", device),
               RedisCommand("SREM", "\(u):revoked", device)]
        return redis.pipeline(commands, on: loop).map { _ in }
    }
}

extension ChatStore {
    /// Presence heard from another region: a mark for the whole region
    /// (`@<region>`, expiring like a device's) and the last seen it showed.
    func applyRemotePresence(_ presence: Relay_V1_Presence, from region: String, until expiresAt: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let u = Self.user(presence.user)
        var commands: [RedisCommand] = presence.online
            ? [RedisCommand("ZADD", "\(u):online", expiresAt, "@\(region)"), RedisCommand("PEXPIREAT", "\(u):online", expiresAt)]
            : [RedisCommand("ZREM", "\(u):online", "@\(region)")]
        if presence.lastSeenMs > 0 {
            commands.append(RedisCommand("SET", "\(u):lastseen", presence.lastSeenMs))
        }
        return redis.pipeline(commands, on: loop).map { _ in }
    }
}
