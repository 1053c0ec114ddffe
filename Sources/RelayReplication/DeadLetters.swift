import Foundation
import NIOCore
import RelayStore

/// Work a region can never complete, set aside in its Redis so that what
/// comes after it goes on: a replication frame that fails to apply with a
/// non-transient error (``FrameRejection``), or a pending fan-out the
/// sweeper cannot finish. Operators list, retry or drop them with
/// `relayctl deadletter` (docs/operability.md, "Dead letters").
///
/// Keys: `r:dead` (sorted set: letter key by the time it was set aside),
/// `r:dead:e:<key>` (hash: the letter), `r:dead:retry` (list: letters an
/// operator asked to apply again; the relay's sweeper takes them).
public final class DeadLetters: Sendable {
    /// One thing set aside.
    public struct Letter: Sendable, Equatable, Encodable {
        /// A replication frame, or a conversation's pending fan-out.
        public enum Kind: String, Sendable, Encodable {
            case frame
            case fanout
        }

        /// `frame:<origin>:<id>` or `fanout:<conversation>:<seq>`: unique, stable.
        public var key: String { "\(kind.rawValue):\(source):\(id)" }
        /// What it is.
        public var kind: Kind
        /// The origin region of a frame, the conversation of a fan-out.
        public var source: String
        /// The frame's id in its origin's outbox, or the fan-out's seq.
        public var id: UInt64
        /// Why it could not be applied (the last attempt's error).
        public var error: String
        /// When it was set aside, milliseconds since 1970.
        public var atMilliseconds: Int64
        /// How often it failed (1, then one more per failed retry).
        public var attempts: Int
        /// The frame's bytes (empty for a fan-out).
        public var body: [UInt8]

        /// A letter of `kind` from `source` numbered `id`.
        public init(kind: Kind, source: String, id: UInt64, error: String, atMilliseconds: Int64, attempts: Int = 1, body: [UInt8] = []) {
            self.kind = kind
            self.source = source
            self.id = id
            self.error = error
            self.atMilliseconds = atMilliseconds
            self.attempts = attempts
            self.body = body
        }

        enum CodingKeys: String, CodingKey {
            case key, kind, source, id, error, atMilliseconds = "atMs", attempts, bytes
        }

        /// Encodes the letter (the body as its size; `list --json` shows no bytes).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(key, forKey: .key)
            try container.encode(kind, forKey: .kind)
            try container.encode(source, forKey: .source)
            try container.encode(id, forKey: .id)
            try container.encode(error, forKey: .error)
            try container.encode(atMilliseconds, forKey: .atMilliseconds)
            try container.encode(attempts, forKey: .attempts)
            try container.encode(body.count, forKey: .bytes)
        }
    }

    static let index = "r:dead"
    static let retries = "r:dead:retry"
    static func entry(_ key: String) -> String { "r:dead:e:\(key)" }

    private let redis: RedisClient

    /// Dead letters in the Redis of `redis`.
    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Sets `letter` aside (again, with one more attempt, if it was before).
    public func quarantine(_ letter: Letter, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let entry = Self.entry(letter.key)
        return redis.pipeline([
            RedisCommand("HSET", entry, "kind", letter.kind.rawValue, "source", letter.source, "id", "\(letter.id)",
                         "error", letter.error, "at", "\(letter.atMilliseconds)", "body", RedisArgument.bytes(ByteBuffer(bytes: letter.body))),
            RedisCommand("HINCRBY", entry, "attempts", "1"),
            RedisCommand("ZADD", Self.index, "\(letter.atMilliseconds)", letter.key),
        ], on: loop).flatMapThrowing { replies in
            for reply in replies { _ = try reply.get() }
        }
    }

    /// The letters set aside, oldest first, at most `limit`.
    public func list(limit: Int = 1000, on loop: any EventLoop) -> EventLoopFuture<[Letter]> {
        redis.send(RedisCommand("ZRANGE", Self.index, "0", "\(max(0, limit - 1))"), on: loop).flatMap { reply in
            let keys = (reply.array ?? []).compactMap(\.string)
            return self.letters(keys, on: loop).map { $0.compactMap { $0 } }
        }
    }

    /// How many letters are set aside.
    public func count(on loop: any EventLoop) -> EventLoopFuture<Int> {
        redis.send(RedisCommand("ZCARD", Self.index), on: loop).map { $0.int ?? 0 }
    }

    /// Asks the relay to apply `key` again (its sweeper takes it within
    /// seconds); false when no such letter is set aside.
    public func retry(_ key: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        redis.send(RedisCommand("ZREM", Self.index, key), on: loop).flatMap { reply in
            guard reply.int == 1 else { return loop.makeSucceededFuture(false) }
            return self.redis.send(RedisCommand("RPUSH", Self.retries, key), on: loop).map { _ in true }
        }
    }

    /// Forgets `key` for good; false when no such letter is set aside.
    public func drop(_ key: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        redis.pipeline([RedisCommand("ZREM", Self.index, key), RedisCommand("DEL", Self.entry(key))], on: loop).map { replies in
            (try? replies[0].get())?.int == 1
        }
    }

    /// The next letter an operator asked to retry, taken off the list; nil when none.
    public func nextRetry(on loop: any EventLoop) -> EventLoopFuture<Letter?> {
        redis.send(RedisCommand("LPOP", Self.retries), on: loop).flatMap { reply in
            guard let key = reply.string else { return loop.makeSucceededFuture(nil) }
            return self.letters([key], on: loop).map { $0.first ?? nil }
        }
    }

    /// A retried letter was applied: it is gone.
    public func resolved(_ letter: Letter, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(RedisCommand("DEL", Self.entry(letter.key)), on: loop).map { _ in }
    }

    /// Puts a letter whose retry failed for a passing reason back on the retry list.
    public func retryLater(_ letter: Letter, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(RedisCommand("RPUSH", Self.retries, letter.key), on: loop).map { _ in }
    }

    private func letters(_ keys: [String], on loop: any EventLoop) -> EventLoopFuture<[Letter?]> {
        guard !keys.isEmpty else { return loop.makeSucceededFuture([]) }
        let commands = keys.map { RedisCommand("HMGET", Self.entry($0), "kind", "source", "id", "error", "at", "attempts", "body") }
        return redis.pipeline(commands, on: loop).map { replies in
            replies.map { reply -> Letter? in
                // Out of Redis: parsed, never trusted to be well formed.
                guard let fields = (try? reply.get())?.array, fields.count == 7,
                      let kind = fields[0].string.flatMap(Letter.Kind.init(rawValue:)),
                      let source = fields[1].string,
                      let id = fields[2].string.flatMap({ UInt64($0) })
                else { return nil }
                return Letter(
                    kind: kind, source: source, id: id, error: fields[3].string ?? "",
                    atMilliseconds: fields[4].string.flatMap { Int64($0) } ?? 0,
                    attempts: fields[5].string.flatMap { Int($0) } ?? 1,
                    body: fields[6].bytes ?? [])
            }
        }
    }
}

/// A frame or fan-out that can never be applied as it is (a bad id, a seq
/// out of range, a refusal by a script): set aside as a dead letter, not
/// retried. Anything else a delegate fails with is taken as passing (the
/// store is down) and retried.
public struct FrameRejection: Error, CustomStringConvertible {
    /// Why.
    public var description: String

    /// A rejection for `reason`.
    public init(_ reason: String) {
        self.description = reason
    }
}
