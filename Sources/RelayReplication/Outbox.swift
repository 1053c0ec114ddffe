import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayStore
import SwiftProtobuf

/// One frame waiting in an outbox.
public struct OutboxEntry: Sendable, Equatable {
    /// Its position in the outbox: 1, 2, 3, ... with no gaps.
    public var id: UInt64
    /// When it was appended (ms since the Unix epoch).
    public var appendedMs: Int64
    /// The serialized `Relay_V1_Frame`.
    public var frame: [UInt8]

    /// An entry with every field given.
    public init(id: UInt64, appendedMs: Int64, frame: [UInt8]) {
        self.id = id
        self.appendedMs = appendedMs
        self.frame = frame
    }
}

/// How far an outbox is: what was appended, what the peer acknowledged.
public struct OutboxStatus: Sendable, Equatable {
    /// The last id given (0 before the first append).
    public var appended: UInt64
    /// The highest id the peer acknowledged.
    public var acknowledged: UInt64
    /// When the oldest unacknowledged frame was appended, if there is one.
    public var oldestAppendedMs: Int64?
    /// Bytes of the frames held.
    public var bytes: UInt64
    /// Set while the link is broken at the cap.
    public var broken: OutboxBreak?

    /// A status with every field given.
    public init(appended: UInt64, acknowledged: UInt64, oldestAppendedMs: Int64?, bytes: UInt64 = 0,
                broken: OutboxBreak? = nil) {
        self.appended = appended
        self.acknowledged = acknowledged
        self.oldestAppendedMs = oldestAppendedMs
        self.bytes = bytes
        self.broken = broken
    }

    /// Frames appended and not yet acknowledged; 0 while the link is broken
    /// (they were discarded).
    public var depth: UInt64 {
        guard broken == nil else { return 0 }
        return appended > acknowledged ? appended - acknowledged : 0
    }

    /// Age of the oldest unacknowledged frame at `nowMs`, 0 when there is none.
    public func lagMs(at nowMs: Int64) -> Int64 {
        guard let oldest = oldestAppendedMs, depth > 0 else { return 0 }
        return max(0, nowMs - oldest)
    }
}

/// The durable outboxes of this region, one per peer region, in this
/// region's Redis (keys in ``ReplicationKey``).
///
/// `append` gives consecutive ids with no gaps (one Lua script: INCR, XADD)
/// and wakes the region's shipper to that peer, on any node: the script
/// publishes on `r:<peer>`, and this process's ``wakeup(for:)`` is notified
/// at once. Acknowledging moves the peer's cursor forward only and trims
/// what it passed.
///
/// Each outbox is capped (``OutboxCap``, decision 0015): an append that
/// would hold more frames or bytes than the cap breaks the link instead.
/// The frames held are discarded, later appends are counted and discarded
/// (their ids are still given), and nothing more is shipped to the peer
/// until ``reset(peer:on:)``.
public final class Outbox: Sendable {
    /// Milliseconds since the Unix epoch.
    public typealias Clock = @Sendable () -> Int64

    private let redis: RedisClient
    private let appendScript: RedisScript
    private let ackScript: RedisScript
    private let resetScript: RedisScript
    private let clock: Clock
    /// The cap on each of these outboxes.
    public let cap: OutboxCap
    private let wakeups = NIOLockedValueBox<[String: Wakeup]>([:])

    /// Outboxes in `redis`, each held within `cap`; `clock` stamps appended frames.
    public init(redis: RedisClient, cap: OutboxCap = OutboxCap(), clock: @escaping Clock = Outbox.systemClock) throws {
        self.redis = redis
        self.appendScript = try ScriptLibrary.load("outbox_append")
        self.ackScript = try ScriptLibrary.load("outbox_ack")
        self.resetScript = try ScriptLibrary.load("outbox_reset")
        self.cap = cap
        self.clock = clock
    }

    /// The wall clock in ms since the Unix epoch.
    public static let systemClock: Clock = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The current time by this outbox's clock.
    public func nowMs() -> Int64 { clock() }

    /// The in-process wake-up of the shipper to `peer`.
    public func wakeup(for peer: String) -> Wakeup {
        wakeups.withLockedValue { wakeups in
            if let wakeup = wakeups[peer] { return wakeup }
            let wakeup = Wakeup()
            wakeups[peer] = wakeup
            return wakeup
        }
    }

    /// Appends `frames` to the outbox for `peer`, in order; succeeds with
    /// their ids (consecutive). An empty list appends nothing.
    public func append(_ frames: [Relay_V1_Frame], to peer: String, on loop: any EventLoop) -> EventLoopFuture<[UInt64]> {
        let serialized: [[UInt8]]
        do {
            serialized = try frames.map { try $0.serializedBytes() }
        } catch {
            return loop.makeFailedFuture(error)
        }
        return append(serialized: serialized, to: peer, on: loop)
    }

    /// Appends already serialized frames (see ``append(_:to:on:)``). Past
    /// the cap, or while the link is broken, the frames are discarded and
    /// their ids still given.
    public func append(serialized frames: [[UInt8]], to peer: String, on loop: any EventLoop) -> EventLoopFuture<[UInt64]> {
        guard !frames.isEmpty else { return loop.makeSucceededFuture([]) }
        var arguments: [any RedisArgumentConvertible] = [
            clock(), ReplicationKey.channel(peer), Int64(clamping: cap.maximumFrames), Int64(clamping: cap.maximumBytes),
        ]
        arguments.reserveCapacity(4 + frames.count)
        for frame in frames { arguments.append(frame) }
        let command = appendScript.command(
            keys: [
                ReplicationKey.counter(peer), ReplicationKey.stream(peer), ReplicationKey.acknowledged(peer),
                ReplicationKey.bytes(peer), ReplicationKey.broken(peer),
            ], arguments: arguments)
        let wakeup = self.wakeup(for: peer)
        return redis.send(command, on: loop).flatMapThrowing { reply in
            guard let ids = reply.array?.compactMap({ $0.int.map(UInt64.init) }), ids.count == frames.count else {
                throw ReplicationError(.redisReply, "outbox_append answered \(reply)")
            }
            wakeup.notify()
            return ids
        }
    }

    /// Up to `limit` frames for `peer` after id `after`, in order.
    public func read(peer: String, after: UInt64, limit: Int, on loop: any EventLoop) -> EventLoopFuture<[OutboxEntry]> {
        let command = RedisCommand("XRANGE", arguments: [
            .string(ReplicationKey.stream(peer)), .string("\(after + 1)-0"), .string("+"),
            .string("COUNT"), .integer(Int64(limit)),
        ])
        return redis.send(command, on: loop).flatMapThrowing { reply in
            try Self.entries(from: reply)
        }
    }

    /// The highest id `peer` acknowledged.
    public func acknowledged(peer: String, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        redis.send(RedisCommand("GET", ReplicationKey.acknowledged(peer)), on: loop).map { reply in
            reply.int.map { UInt64(max(0, $0)) } ?? 0
        }
    }

    /// Records that `peer` acknowledged every frame up to `id`; succeeds
    /// with the acknowledged id after the call (never lower than before).
    public func acknowledge(peer: String, through id: UInt64, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        let command = ackScript.command(
            keys: [
                ReplicationKey.acknowledged(peer), ReplicationKey.stream(peer), ReplicationKey.counter(peer),
                ReplicationKey.bytes(peer),
            ],
            arguments: [Int64(clamping: id), ReplicationKey.channel(peer)])
        return redis.send(command, on: loop).flatMapThrowing { reply in
            guard let acked = reply.int, acked >= 0 else {
                throw ReplicationError(.redisReply, "outbox_ack answered \(reply)")
            }
            return UInt64(acked)
        }
    }

    /// The outbox's counter, cursor, oldest unacknowledged frame, bytes
    /// held, and whether the link is broken.
    public func status(peer: String, on loop: any EventLoop) -> EventLoopFuture<OutboxStatus> {
        redis.pipeline([
            RedisCommand("GET", ReplicationKey.counter(peer)),
            RedisCommand("GET", ReplicationKey.acknowledged(peer)),
            RedisCommand("XRANGE", ReplicationKey.stream(peer), "-", "+", "COUNT", "1"),
            RedisCommand("HMGET", ReplicationKey.bytes(peer), "in", "acked"),
            RedisCommand("HGETALL", ReplicationKey.broken(peer)),
        ], on: loop).flatMapThrowing { results in
            let appended = try results[0].get().int ?? 0
            let acknowledged = try results[1].get().int ?? 0
            let oldest = try Self.entries(from: results[2].get()).first
            let bytes = try results[3].get().array?.map { $0.int ?? 0 } ?? []
            let held = bytes.count == 2 ? max(0, bytes[0] - bytes[1]) : 0
            var fields: [String: String] = [:]
            if let flat = try results[4].get().array {
                var index = 0
                while index + 1 < flat.count {
                    if let key = flat[index].string, let value = flat[index + 1].string { fields[key] = value }
                    index += 2
                }
            }
            return OutboxStatus(
                appended: UInt64(max(0, appended)), acknowledged: UInt64(max(0, acknowledged)),
                oldestAppendedMs: oldest?.appendedMs, bytes: fields.isEmpty ? UInt64(held) : 0,
                broken: OutboxBreak.parse(fields))
        }
    }

    /// Ends a broken link (`relayctl outbox reset`, once the peer is
    /// re-seeded): the discarded frames are given up for good and shipping
    /// resumes with the next frame appended. Nothing changes when the
    /// link is not broken.
    public func reset(peer: String, on loop: any EventLoop) -> EventLoopFuture<OutboxReset> {
        let command = resetScript.command(
            keys: [
                ReplicationKey.counter(peer), ReplicationKey.stream(peer), ReplicationKey.acknowledged(peer),
                ReplicationKey.bytes(peer), ReplicationKey.broken(peer),
            ], arguments: [ReplicationKey.channel(peer)])
        return redis.send(command, on: loop).flatMapThrowing { reply in
            guard let values = reply.array?.compactMap(\.int), values.count == 3 else {
                throw ReplicationError(.redisReply, "outbox_reset answered \(reply)")
            }
            return OutboxReset(
                wasBroken: values[0] == 1, resumesAfter: UInt64(max(0, values[1])), discarded: UInt64(max(0, values[2])))
        }
    }

    /// Parses an XRANGE reply: `[[id, [field, value, ...]], ...]`.
    static func entries(from reply: RESPValue) throws -> [OutboxEntry] {
        guard let items = reply.array else {
            if reply.isNull { return [] }
            throw ReplicationError(.redisReply, "XRANGE answered \(reply)")
        }
        return try items.map { item in
            guard let pair = item.array, pair.count == 2, let fields = pair[1].array else {
                throw ReplicationError(.redisReply, "an outbox entry is \(item)")
            }
            var id: UInt64?
            var appended: Int64 = 0
            var frame: [UInt8]?
            var index = 0
            while index + 1 < fields.count {
                switch fields[index].string {
                case "i": id = fields[index + 1].int.map { UInt64(max(0, $0)) }
                case "t": appended = Int64(fields[index + 1].int ?? 0)
                case "f": frame = fields[index + 1].bytes
                default: break
                }
                index += 2
            }
            guard let id, let frame else {
                throw ReplicationError(.redisReply, "an outbox entry lacks i or f: \(item)")
            }
            return OutboxEntry(id: id, appendedMs: appended, frame: frame)
        }
    }
}
