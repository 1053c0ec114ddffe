import Foundation
import NIOCore
import RelayCore
import RelayPush
import RelayStore

/// Push registrations and pending pushes in the region's Redis.
///
/// - `{d:<device>}:push` (hash): the device's one target (`kind` webpush,
///   apns or fcm and its fields), its `user` and `home` region.
/// - `{d:<device>}:pushstate` (hash): `last` (ms of the last push sent in
///   the current offline spell), and for a pending push `urg` (high or
///   normal), `since` (ms it was first due, for the latency histogram) and
///   `attempts`.
/// - `push:due` (sorted set): device → when its pending push is due (ms);
///   a node that takes one moves it a lease ahead, so a node killed
///   mid-request leaves it to be taken again.
package final class PushStore: Sendable {
    let redis: RedisClient
    static let dueKey = "push:due"
    /// How long a taken push stays with the node that took it, in ms.
    static let leaseMilliseconds: Int64 = 30_000

    private let triggerScript = RedisScript(name: "push_trigger", source: """
        -- Coalescing (docs/push.md): one pending push per device; none within the
        -- window after one was sent while the device stays offline. Only the
        -- device's keys (one hash tag); the caller then adds the device to
        -- push:due (ZADD NX, so a repeat is harmless).
        -- KEYS[1] {d:D}:push  KEYS[2] {d:D}:pushstate
        -- ARGV 1 now (ms), 2 window (ms), 3 urgency, 4.. homes served here
        -- Returns {0} no registration, {1, since} scheduled, {2, since} merged
        -- into the pending one, {3} dropped within the window, {4} the
        -- device's home is not served here.
        local home = redis.call('HGET', KEYS[1], 'home')
        if not home then return {0} end
        local served = false
        for i = 4, #ARGV do if ARGV[i] == home then served = true end end
        if not served then return {4} end
        local since = redis.call('HGET', KEYS[2], 'since')
        if since then
          if ARGV[3] == 'high' then redis.call('HSET', KEYS[2], 'urg', 'high') end
          return {2, tonumber(since)}
        end
        local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
        if last > 0 and tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then return {3} end
        redis.call('HSET', KEYS[2], 'urg', ARGV[3], 'since', ARGV[1], 'attempts', '0')
        return {1, tonumber(ARGV[1])}
        """)

    private let claimScript = RedisScript(name: "push_claim", source: """
        -- Takes up to ARGV[3] pushes due at ARGV[1] (ms), moving each a lease (ARGV[2] ms) ahead.
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
        for _, d in ipairs(due) do
          redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), d)
        end
        return due
        """)

    init(redis: RedisClient) {
        self.redis = redis
    }

    static func registrationKey(_ device: String) -> String { "\(RedisKey.deviceTag(device)):push" }
    static func stateKey(_ device: String) -> String { "\(RedisKey.deviceTag(device)):pushstate" }

    // MARK: - Registrations

    /// A registration as stored.
    struct Registration: Sendable, Equatable {
        var user: String
        var home: String
        var target: PushTarget
    }

    /// Stores `target` as `device`'s one target (replacing any).
    func register(device: String, user: String, home: String, target: Relay_V1_PushRegister, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let key = Self.registrationKey(device)
        var fields: [String] = ["user", user, "home", home]
        switch target.target {
        case .webPush(let w):
            fields += ["kind", "webpush", "endpoint", w.endpoint, "p256dh", Base64URL.encode(w.p256Dh), "auth", Base64URL.encode(w.auth)]
        case .apns(let a):
            fields += ["kind", "apns", "token", a.token, "topic", a.topic, "sandbox", a.sandbox ? "1" : "0"]
        case .fcm(let f):
            fields += ["kind", "fcm", "token", f.token]
        case .none:
            return loop.makeFailedFuture(ChatError(.badRequest, "push_register names no target"))
        }
        return redis.pipeline([
            RedisCommand("DEL", key),
            RedisCommand("HSET", arguments: ([key] + fields).map { RedisArgument.string($0) }),
            // A new target starts afresh: nothing pending, no window.
            RedisCommand("DEL", Self.stateKey(device)),
        ], on: loop).flatMapThrowing { replies in
            for reply in replies { _ = try reply.get() }
        }
    }

    /// Removes `device`'s target and anything pending for it.
    func unregister(device: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.pipeline([
            RedisCommand("DEL", Self.registrationKey(device)),
            RedisCommand("DEL", Self.stateKey(device)),
            RedisCommand("ZREM", Self.dueKey, device),
        ], on: loop).flatMapThrowing { replies in
            for reply in replies { _ = try reply.get() }
        }
    }

    /// The stored registration, validated again (Redis is not trusted to
    /// hold only what this code wrote); nil when there is none or it is
    /// malformed.
    func registration(device: String, allowPrivate: Bool, on loop: any EventLoop) -> EventLoopFuture<Registration?> {
        redis.send(RedisCommand("HGETALL", Self.registrationKey(device)), on: loop).map { reply in
            Self.registration(fields: Self.hash(reply), allowPrivate: allowPrivate)
        }
    }

    static func registration(fields: [String: String], allowPrivate: Bool) -> Registration? {
        guard let user = fields["user"], let home = fields["home"], let kind = fields["kind"] else { return nil }
        let target: PushTarget
        do throws(PushError) {
            switch kind {
            case "webpush":
                guard let endpoint = fields["endpoint"], let p256dh = fields["p256dh"].flatMap(Base64URL.decode),
                      let auth = fields["auth"].flatMap(Base64URL.decode)
                else { return nil }
                target = try PushTarget.validatedWebPush(endpoint: endpoint, p256dh: p256dh, auth: auth, allowPrivate: allowPrivate)
            case "apns":
                target = try PushTarget.validatedAPNs(token: fields["token"] ?? "", topic: fields["topic"] ?? "", sandbox: fields["sandbox"] == "1")
            case "fcm":
                target = try PushTarget.validatedFCM(token: fields["token"] ?? "")
            default:
                return nil
            }
        } catch {
            return nil
        }
        return Registration(user: user, home: home, target: target)
    }

    // MARK: - Pending pushes

    /// What the trigger script decided.
    enum Trigger: Int, Sendable {
        case unregistered = 0
        case scheduled = 1
        case merged = 2
        case withinWindow = 3
        case notServedHere = 4
    }

    /// Something was queued for the offline `device`: schedule its push
    /// unless coalescing says otherwise.
    func trigger(device: String, urgency: PushUrgency, nowMilliseconds: Int64, windowMilliseconds: Int64, servedHomes: [String], on loop: any EventLoop) -> EventLoopFuture<Trigger> {
        let arguments: [String] = ["\(nowMilliseconds)", "\(windowMilliseconds)", urgency.rawValue] + servedHomes
        return redis.send(triggerScript.command(keys: [Self.registrationKey(device), Self.stateKey(device)], arguments: arguments), on: loop)
            .flatMapThrowing { reply -> (Trigger, Int64?) in
                guard let values = reply.array, let code = values.first?.int, let trigger = Trigger(rawValue: code) else {
                    throw ChatError.storeReply("push_trigger answered \(reply)")
                }
                return (trigger, values.count > 1 ? values[1].int.map { Int64($0) } : nil)
            }
            .flatMap { trigger, since -> EventLoopFuture<Trigger> in
                guard trigger == .scheduled || trigger == .merged, let since else { return loop.makeSucceededFuture(trigger) }
                return self.redis.send(RedisCommand("ZADD", Self.dueKey, "NX", "\(since)", device), on: loop).map { _ in trigger }
            }
    }

    /// Takes up to `limit` due pushes.
    func claim(nowMilliseconds: Int64, limit: Int, on loop: any EventLoop) -> EventLoopFuture<[String]> {
        guard limit > 0 else { return loop.makeSucceededFuture([]) }
        return redis.send(claimScript.command(keys: [Self.dueKey], arguments: ["\(nowMilliseconds)", "\(Self.leaseMilliseconds)", "\(limit)"]), on: loop)
            .map { reply in (reply.array ?? []).compactMap(\.string).filter { DeviceID(rawValue: $0) != nil } }
    }

    /// A taken push's device: its registration, its pending state, and whether it is connected now.
    struct Claimed: Sendable {
        var registration: Registration?
        var urgency: PushUrgency
        var sinceMilliseconds: Int64?
        var attempts: Int
        var connected: Bool
    }

    func claimed(device: String, allowPrivate: Bool, on loop: any EventLoop) -> EventLoopFuture<Claimed> {
        redis.pipeline([
            RedisCommand("HGETALL", Self.registrationKey(device)),
            RedisCommand("HGETALL", Self.stateKey(device)),
            RedisCommand("PUBSUB", "SHARDNUMSUB", ChatStore.channel(device: device)),
        ], on: loop).flatMapThrowing { replies in
            let registration = Self.registration(fields: Self.hash(try replies[0].get()), allowPrivate: allowPrivate)
            let state = Self.hash(try replies[1].get())
            let numsub = try replies[2].get().array ?? []
            let subscribers = numsub.count == 2 ? numsub[1].int ?? 0 : 0
            return Claimed(
                registration: registration,
                urgency: state["urg"].flatMap(PushUrgency.init(rawValue:)) ?? .normal,
                sinceMilliseconds: state["since"].flatMap { Int64($0) },
                attempts: state["attempts"].flatMap { Int($0) }.map { max(0, min($0, 1000)) } ?? 0,
                connected: subscribers > 0
            )
        }
    }

    /// The push went out: the window starts now.
    func sent(device: String, nowMilliseconds: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.pipeline([
            RedisCommand("ZREM", Self.dueKey, device),
            RedisCommand("HDEL", Self.stateKey(device), "urg", "since", "attempts"),
            RedisCommand("HSET", Self.stateKey(device), "last", "\(nowMilliseconds)"),
        ], on: loop).map { _ in }
    }

    /// Nothing more to do for the pending push (dropped, cancelled).
    func discard(device: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.pipeline([
            RedisCommand("ZREM", Self.dueKey, device),
            RedisCommand("HDEL", Self.stateKey(device), "urg", "since", "attempts"),
        ], on: loop).map { _ in }
    }

    /// Try again at `dueMilliseconds`, after `attempts` tries.
    func retry(device: String, attempts: Int, dueMilliseconds: Int64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.pipeline([
            RedisCommand("HSET", Self.stateKey(device), "attempts", "\(attempts)"),
            RedisCommand("ZADD", Self.dueKey, "XX", "\(dueMilliseconds)", device),
        ], on: loop).map { _ in }
    }

    /// The device connected: what was pending is moot, and its next
    /// offline spell starts with no window.
    func connected(device: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.pipeline([
            RedisCommand("ZREM", Self.dueKey, device),
            RedisCommand("DEL", Self.stateKey(device)),
        ], on: loop).map { _ in }
    }

    static func hash(_ reply: RESPValue) -> [String: String] {
        var fields: [String: String] = [:]
        let values = reply.array ?? []
        var i = 0
        while i + 1 < values.count {
            if let name = values[i].string, let value = values[i + 1].string { fields[name] = value }
            i += 2
        }
        return fields
    }
}
