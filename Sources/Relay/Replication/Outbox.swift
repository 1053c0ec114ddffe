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

    /// A status with every field given.
    public init(appended: UInt64, acknowledged: UInt64, oldestAppendedMs: Int64?) {
        self.appended = appended
        self.acknowledged = acknowledged
        self.oldestAppendedMs = oldestAppendedMs
    }

    /// Frames appended and not yet acknowledged.
    public var depth: UInt64 { appended > acknowledged ? appended - acknowledged : 0 }

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
public final class Outbox: Sendable {
    /// Milliseconds since the Unix epoch.
    public typealias Clock = @Sendable () -> Int64

    private let redis: RedisClient
    private let appendScript: RedisScript
    private let ackScript: RedisScript
    private let clock: Clock
    private let wakeups = NIOLockedValueBox<[String: Wakeup]>([:])

    /// Outboxes in `redis`; `clock` stamps appended frames.
    public init(redis: RedisClient, clock: @escaping Clock = Outbox.systemClock) throws {
        self.redis = redis
        self.appendScript = try ScriptLibrary.load("outbox_append")
        self.ackScript = try ScriptLibrary.load("outbox_ack")
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

    /// Appends already serialized frames (see ``append(_:to:on:)``).
    public func append(serialized frames: [[UInt8]], to peer: String, on loop: any EventLoop) -> EventLoopFuture<[UInt64]> {
        guard !frames.isEmpty else { return loop.makeSucceededFuture([]) }
        var arguments: [any RedisArgumentConvertible] = [clock(), ReplicationKey.channel(peer)]
        arguments.reserveCapacity(2 + frames.count)
        for frame in frames { arguments.append(frame) }
        let command = appendScript.command(
            keys: [ReplicationKey.counter(peer), ReplicationKey.stream(peer)], arguments: arguments)
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
            keys: [ReplicationKey.acknowledged(peer), ReplicationKey.stream(peer), ReplicationKey.counter(peer)],
            arguments: [Int64(clamping: id), ReplicationKey.channel(peer)])
        return redis.send(command, on: loop).flatMapThrowing { reply in
            guard let acked = reply.int, acked >= 0 else {
                throw ReplicationError(.redisReply, "outbox_ack answered \(reply)")
            }
            return UInt64(acked)
        }
    }

    /// The outbox's counter, cursor and oldest unacknowledged frame.
    public func status(peer: String, on loop: any EventLoop) -> EventLoopFuture<OutboxStatus> {
        redis.pipeline([
            RedisCommand("GET", ReplicationKey.counter(peer)),
            RedisCommand("GET", ReplicationKey.acknowledged(peer)),
            RedisCommand("XRANGE", ReplicationKey.stream(peer), "-", "+", "COUNT", "1"),
        ], on: loop).flatMapThrowing { results in
            let appended = try results[0].get().int ?? 0
            let acknowledged = try results[1].get().int ?? 0
            let oldest = try Self.entries(from: results[2].get()).first
            return OutboxStatus(
                appended: UInt64(max(0, appended)), acknowledged: UInt64(max(0, acknowledged)),
                oldestAppendedMs: oldest?.appendedMs)
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
