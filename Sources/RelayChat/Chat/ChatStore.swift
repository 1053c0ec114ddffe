import Foundation
import NIOCore
import RelayCore
import RelayStore

/// The chat relay's Redis operations: accepting sends, fan-out into device
/// queues, reading and acknowledging queues, groups and devices. Every key
/// carries the hash tag of its conversation, device or user (`{c:…}`,
/// `{d:…}`, `{u:…}`), so the scripts run unchanged on Redis Cluster.
package final class ChatStore: Sendable {
    package let redis: RedisClient
    let configuration: ChatConfiguration
    /// The pumps of devices connected to this node, offered what is stored for them.
    let localPumps = LocalPumps()
    /// Told what is queued for devices connected nowhere in the region (docs/push.md).
    package let pushHook: PushHook
    private let sendScript: RedisScript
    private let enqueueScript: RedisScript
    private let groupCreateScript: RedisScript
    private let groupChangeScript: RedisScript
    let receiptScript: RedisScript
    let fanoutScript: RedisScript
    let ackScript: RedisScript
    let conversationSettingsScript: RedisScript
    let applyMessageScript: RedisScript
    let rewindScript: RedisScript
    let conversationStateScript: RedisScript

    package init(redis: RedisClient, configuration: ChatConfiguration) throws {
        self.redis = redis
        self.configuration = configuration
        self.pushHook = PushHook(redis: redis)
        self.sendScript = try ScriptLibrary.load("send")
        self.enqueueScript = try ScriptLibrary.load("enqueue")
        self.groupCreateScript = try ScriptLibrary.load("group_create")
        self.groupChangeScript = try ScriptLibrary.load("group_change")
        self.receiptScript = try ScriptLibrary.load("receipt")
        self.fanoutScript = try ScriptLibrary.load("fanout")
        self.ackScript = try ScriptLibrary.load("ack")
        self.conversationSettingsScript = try ScriptLibrary.load("conversation_settings")
        self.applyMessageScript = try ScriptLibrary.load("apply_message")
        self.rewindScript = try ScriptLibrary.load("rewind")
        self.conversationStateScript = try ScriptLibrary.load("conversation_state")
    }

    // MARK: - Keys

    static func conversation(_ id: String) -> String { RedisKey.conversationTag(id) }
    static func device(_ id: String) -> String { RedisKey.deviceTag(id) }
    static func user(_ id: String) -> String { RedisKey.userTag(id) }
    /// The Pub/Sub channel the node holding a device's connection listens on.
    static func channel(device: String) -> String { "d:\(device)" }

    // MARK: - Sending

    /// A send to accept.
    struct Accept: Sendable {
        var conversation: String
        var user: String
        var device: String
        var clientMessageID: String
        var ciphertext: [UInt8]
        var deviceCiphertexts: [(device: String, ciphertext: [UInt8])]
        var replyTo: Seq?
        var ttlSeconds: UInt32
        /// The other user of a 1:1 conversation ("" for groups).
        var directPeer: String
        var nowMilliseconds: Int64
        /// The lowest epoch to sequence under: the term of the conversation's home region.
        var epochFloor: UInt32 = 1

        /// A send validated by RelayCore, from `user`'s `device` into `conversation`.
        init(conversation: String, user: String, device: String, send: ValidatedSend, directPeer: String, nowMilliseconds: Int64) {
            self.conversation = conversation
            self.user = user
            self.device = device
            self.clientMessageID = send.clientMessageID
            self.ciphertext = send.sharedCiphertext.map { Array($0) } ?? []
            self.deviceCiphertexts = send.deviceCiphertexts.map { ($0.key.rawValue, Array($0.value)) }.sorted { $0.device < $1.device }
            self.replyTo = send.replyTo
            self.ttlSeconds = send.ttlSeconds
            self.directPeer = directPeer
            self.nowMilliseconds = nowMilliseconds
        }
    }

    /// What `send.lua` decided.
    struct Accepted: Sendable {
        var duplicate: Bool
        var epoch: UInt32
        var seq: UInt64
        /// Seconds the message is kept (0 for a duplicate).
        var ttlSeconds: UInt32 = 0
    }

    /// Dedup, membership, sequence and store in one script call; durable
    /// (AOF) when it completes.
    func accept(_ send: Accept, on loop: any EventLoop) -> EventLoopFuture<Accepted> {
        let c = Self.conversation(send.conversation)
        let keys = ["\(c):meta", "\(c):members", "\(c):log", "\(c):dedup:\(send.device):\(send.clientMessageID)", "\(c):pending"]
        var arguments: [RedisArgument] = [
            .string(c), .string(send.user), .string(send.device), .string(send.clientMessageID),
            .integer(send.nowMilliseconds), .bytes(ByteBuffer(bytes: send.ciphertext)), .integer(send.replyTo?.int64 ?? 0),
            .integer(Int64(configuration.retentionSeconds)), .integer(Int64(configuration.dedupSeconds)),
            .string(send.directPeer), .integer(Int64(send.ttlSeconds)), .integer(Int64(send.epochFloor)),
        ]
        for (device, ciphertext) in send.deviceCiphertexts {
            arguments.append(.string(device))
            arguments.append(.bytes(ByteBuffer(bytes: ciphertext)))
        }
        return redis.send(sendScript.command(keys: keys, arguments: arguments), on: loop).flatMapThrowing { reply in
            guard let values = reply.array, values.count >= 3,
                  let duplicate = values[0].int, let epoch = values[1].int.flatMap(UInt32.init(exactly:)),
                  let seq = values[2].int.flatMap(UInt64.init(exactly:))
            else { throw ChatError.storeReply("send.lua answered \(reply)") }
            let ttl = values.count > 3 ? values[3].int ?? 0 : 0
            return Accepted(duplicate: duplicate == 1, epoch: epoch, seq: seq, ttlSeconds: UInt32(clamping: ttl))
        }
    }

    /// Members of a conversation and their roles.
    func members(of conversation: String, on loop: any EventLoop) -> EventLoopFuture<[String: String]> {
        redis.send(RedisCommand("HGETALL", "\(Self.conversation(conversation)):members"), on: loop).map { reply in
            var members: [String: String] = [:]
            let values = reply.array ?? []
            var i = 0
            while i + 1 < values.count {
                if let name = values[i].string, let role = values[i + 1].string { members[name] = role }
                i += 2
            }
            return members
        }
    }

    /// The devices of each user, pipelined. Fails when a user's set cannot
    /// be read (on a cluster one master can be down while the others answer):
    /// "no devices" would finish a fan-out that marked nobody.
    func devices(of users: [String], on loop: any EventLoop) -> EventLoopFuture<[String: [String]]> {
        guard !users.isEmpty else { return loop.makeSucceededFuture([:]) }
        let commands = users.map { RedisCommand("SMEMBERS", "\(Self.user($0)):devices") }
        return redis.pipeline(commands, on: loop).flatMapThrowing { replies in
            var devices: [String: [String]] = [:]
            for (user, reply) in zip(users, replies) {
                devices[user] = try reply.get().array?.compactMap(\.string).sorted() ?? []
            }
            return devices
        }
    }

    /// Outcome of putting entries on one device's queue.
    struct Enqueued: Sendable {
        /// Each entry's position on the queue; 0 where it was queued already.
        var positions: [Int]
        var added: Int
        /// 0 when no node listens for the device: it is offline.
        var subscribers: Int
        var dropped: Int
    }

    /// Puts statuses and events on several devices' queues, pipelined; each
    /// enqueue is idempotent and wakes the device's node. What is added is
    /// offered to the pumps of the devices connected here.
    func enqueue(_ entries: [(device: String, entries: [[UInt8]])], on loop: any EventLoop) -> EventLoopFuture<[Enqueued]> {
        guard !entries.isEmpty else { return loop.makeSucceededFuture([]) }
        let commands = entries.map { item -> RedisCommand in
            let d = Self.device(item.device)
            var arguments: [RedisArgument] = [.string(Self.channel(device: item.device)), .integer(Int64(configuration.maximumQueuedPerDevice))]
            arguments.append(contentsOf: item.entries.map { .bytes(ByteBuffer(bytes: $0)) })
            return enqueueScript.command(keys: ["\(d):q", "\(d):n", "\(d):dropped"], arguments: arguments)
        }
        // Pumps here learn of the entries from the replies (offers); their
        // Pub/Sub notices, which can come first, wait for those.
        let local = localPumps.pumps(of: entries.map(\.device))
        for pump in local { pump.enqueueStarted() }
        return redis.pipeline(commands, on: loop).flatMapThrowing { replies in
            try zip(entries, replies).map { item, result in
                let reply = try result.get()
                guard let values = reply.array, values.count == 4 else { throw ChatError.storeReply("enqueue.lua answered \(reply)") }
                let positions = (values[3].array ?? []).map { $0.int ?? 0 }
                self.localPumps.offer(entries: item.entries, positions: positions, to: item.device)
                if values[0].int ?? 0 > 0 && values[1].int == 0 { self.pushHook.queued(device: item.device, entries: item.entries) }
                return Enqueued(positions: positions, added: values[0].int ?? 0, subscribers: values[1].int ?? 0, dropped: values[2].int ?? 0)
            }
        }.always { _ in
            for pump in local { pump.enqueueEnded() }
        }
    }

    /// The fan-out of `seq` is complete.
    func finishFanout(conversation: String, seq: UInt64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(RedisCommand("ZREM", "\(Self.conversation(conversation)):pending", "\(seq)"), on: loop).map { _ in }
    }

    /// Records the fan-out of `seq` as pending since `at` (ms) again, for the sweeper.
    func markFanoutPending(conversation: String, seq: UInt64, at: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(RedisCommand("ZADD", "\(Self.conversation(conversation)):pending", "\(at)", "\(seq)"), on: loop).map { _ in }
    }

    /// Fan-outs accepted before `olderThan` (ms) and never finished (a node
    /// died between PUBACK and fan-out), for the sweeper.
    func unfinishedFanouts(conversation: String, olderThan: Int64, on loop: any EventLoop) -> EventLoopFuture<[UInt64]> {
        redis.send(RedisCommand("ZRANGEBYSCORE", "\(Self.conversation(conversation)):pending", "-inf", "\(olderThan)"), on: loop).map { reply in
            (reply.array ?? []).compactMap { $0.string.flatMap(UInt64.init) }
        }
    }

    /// Conversations with fan-outs recorded as pending (SCAN, so it also
    /// works node by node on a cluster).
    func pendingConversations(on loop: any EventLoop) -> EventLoopFuture<[String]> {
        @Sendable func scan(from cursor: String, found: [String]) -> EventLoopFuture<[String]> {
            redis.send(RedisCommand("SCAN", cursor, "MATCH", "{c:*}:pending", "COUNT", "1000"), on: loop).flatMap { reply in
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                    return loop.makeSucceededFuture(found)
                }
                let keys = (parts[1].array ?? []).compactMap(\.string).compactMap { key -> String? in
                    guard key.hasPrefix("{c:"), key.hasSuffix("}:pending") else { return nil }
                    return String(key.dropFirst(3).dropLast(9))
                }
                return next == "0" ? loop.makeSucceededFuture(found + keys) : scan(from: next, found: found + keys)
            }
        }
        return scan(from: "0", found: [])
    }

    // MARK: - Device queues

    /// A stored message as `send.lua` wrote it.
    struct StoredMessage: Sendable {
        var user: String
        var device: String
        var time: Int64
        var ciphertext: [UInt8]
        var clientMessageID: String
        var replyTo: UInt64
        var epoch: UInt32
    }

    /// Loads messages for one device (its own ciphertext where the sender
    /// gave one per device), pipelined; nil for a message that expired.
    func messages(_ refs: [(conversation: String, seq: UInt64)], for device: String, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage?]> {
        guard !refs.isEmpty else { return loop.makeSucceededFuture([]) }
        var commands: [RedisCommand] = []
        for ref in refs {
            let key = "\(Self.conversation(ref.conversation)):m:\(ref.seq)"
            commands.append(RedisCommand("HMGET", key, "u", "d", "t", "c", "cm", "r", "e"))
            commands.append(RedisCommand("HGET", "\(key):x", device))
        }
        // A read that failed fails the batch: nil means the message expired,
        // and the pump skips it for good (on a cluster the conversation's
        // master can be down while the device's answers).
        return redis.pipeline(commands, on: loop).flatMapThrowing { replies in
            try (0..<refs.count).map { i -> StoredMessage? in
                let body = try replies[2 * i].get()
                let own = try replies[2 * i + 1].get()
                guard let fields = body.array, fields.count == 7,
                      let user = fields[0].string, let sender = fields[1].string
                else { return nil }
                var ciphertext = fields[3].bytes ?? []
                if let own = own.bytes { ciphertext = own }
                return StoredMessage(
                    user: user,
                    device: sender,
                    time: fields[2].string.flatMap { Int64($0) } ?? 0,
                    ciphertext: ciphertext,
                    clientMessageID: fields[4].string ?? "",
                    replyTo: fields[5].string.flatMap { UInt64($0) } ?? 0,
                    epoch: fields[6].string.flatMap { UInt32($0) } ?? 1
                )
            }
        }
    }

    /// The device has the entry: it leaves the queue.
    /// Writes what a device acknowledged in one request: its cursor moves
    /// (one `ack.lua` per conversation) and the queue entries it took (one
    /// `ZREM`). Fails if any of them failed.
    func acknowledge(device: String, cursors: [(key: String, value: UInt64)], entries: [[UInt8]], on loop: any EventLoop) -> EventLoopFuture<Void> {
        let d = Self.device(device)
        var commands = cursors.map { conversation, seq in
            ackScript.command(keys: ["\(d):cur", "\(d):dirty"], arguments: [conversation, Int64(clamping: seq)])
        }
        if !entries.isEmpty {
            commands.append(RedisCommand("ZREM", arguments: [.string("\(d):q")] + entries.map { .bytes(ByteBuffer(bytes: $0)) }))
        }
        return redis.pipeline(commands, on: loop).flatMapThrowing { results in
            for result in results { _ = try result.get() }
        }
    }

    func acknowledge(device: String, entry: [UInt8], on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(RedisCommand("ZREM", "\(Self.device(device)):q", RedisArgument.bytes(ByteBuffer(bytes: entry))), on: loop).map { _ in }
    }

    /// Takes the count of entries dropped at the device's cap since last asked.
    func takeDropped(device: String, on loop: any EventLoop) -> EventLoopFuture<Int> {
        redis.send(RedisCommand("GETDEL", "\(Self.device(device)):dropped"), on: loop).map { reply in
            reply.string.flatMap { Int($0) } ?? 0
        }
    }

    // MARK: - Devices

    /// What registering a device to a user came to.
    enum DeviceRegistration: Sendable, Equatable {
        /// The device is (now) one of the user's.
        case registered
        /// The user already has the maximum number of other devices.
        case full
        /// The device id belongs to another user: a device id, once
        /// registered to a user (`{d:<device>}:owner`), is never another's.
        case ownedByAnother
    }

    /// Records a device of a user: claims the device id for the user
    /// (first come; it never changes hands) and adds it to the user's
    /// devices within the per-user limit.
    func register(device: String, user: String, on loop: any EventLoop) -> EventLoopFuture<DeviceRegistration> {
        let key = "\(Self.user(user)):devices"
        let owner = "\(Self.device(device)):owner"
        return redis.pipeline([
            RedisCommand("SETNX", owner, user), RedisCommand("GET", owner),
            RedisCommand("SISMEMBER", key, device), RedisCommand("SCARD", key),
        ], on: loop).flatMap { replies -> EventLoopFuture<DeviceRegistration> in
            guard let claimed = try? replies[1].get().string else {
                return loop.makeFailedFuture(ChatError.storeReply("the owner of device \(device) could not be read"))
            }
            guard claimed == user else { return loop.makeSucceededFuture(.ownedByAnother) }
            let known = (try? replies[2].get())?.int == 1
            let count = (try? replies[3].get())?.int ?? 0
            if known { return loop.makeSucceededFuture(.registered) }
            guard count < self.configuration.maximumDevicesPerUser else { return loop.makeSucceededFuture(.full) }
            return self.redis.send(RedisCommand("SADD", key, device), on: loop).flatMap { _ in
                // A new device starts at the present in every conversation (docs/protocol.md, "Receiving").
                self.startAtPresent(device: device, user: user, on: loop)
            }.map { .registered }
        }
    }

    // MARK: - Groups

    /// Creates a group; fails with `ChatError.refused` ("group_full", "exists").
    func createGroup(_ id: String, creator: String, members: [String], nowMilliseconds: Int64, on loop: any EventLoop) -> EventLoopFuture<Int> {
        let c = Self.conversation(id)
        var arguments: [RedisArgument] = [.string(creator), .integer(nowMilliseconds), .string(configuration.region), .integer(Int64(configuration.maximumGroupMembers))]
        arguments.append(contentsOf: members.map { .string($0) })
        return redis.send(groupCreateScript.command(keys: ["\(c):meta", "\(c):members", "\(c):order"], arguments: arguments), on: loop)
            .map { $0.int ?? 0 }
            .flatMapErrorThrowing { throw ChatError(redis: $0) }
    }

    /// Changes a group's members ("add", "remove", "leave", "admin", "unadmin").
    func changeGroup(_ id: String, actor: String, operation: String, users: [String], successor: String, on loop: any EventLoop) -> EventLoopFuture<Int> {
        let c = Self.conversation(id)
        var arguments: [RedisArgument] = [.string(actor), .string(operation), .integer(Int64(configuration.maximumGroupMembers)), .string(successor)]
        arguments.append(contentsOf: users.map { .string($0) })
        return redis.send(groupChangeScript.command(keys: ["\(c):meta", "\(c):members", "\(c):joined", "\(c):order"], arguments: arguments), on: loop)
            .map { $0.int ?? 0 }
            .flatMapErrorThrowing { throw ChatError(redis: $0) }
    }

    /// A group's members in the order they joined (earliest first); members
    /// of groups made before the order was kept are not in it.
    func joinOrder(of id: String, on loop: any EventLoop) -> EventLoopFuture<[String]> {
        redis.send(RedisCommand("ZRANGE", "\(Self.conversation(id)):order", "0", "-1"), on: loop).map { reply in
            (reply.array ?? []).compactMap(\.string)
        }
    }
}
