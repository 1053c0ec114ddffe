import NIOCore
import RelayStore

/// The bytes each user holds in the region's media store, counted in the
/// region's Redis (`m:used:{u:<user>}`): an upload grant reserves its
/// declared length, garbage collection releases it. Shared by every node of
/// the region.
package struct MediaQuota: Sendable {
    let redis: RedisClient

    /// The quotas kept in `redis`.
    package init(redis: RedisClient) {
        self.redis = redis
    }

    static func key(user: String) -> String { "m:used:{u:\(user)}" }

    /// Adds `bytes` to `user`'s count unless that would pass `limit`;
    /// true when reserved.
    func reserve(user: String, bytes: UInt64, limit: UInt64, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        guard let amount = Int64(exactly: bytes) else { return loop.makeSucceededFuture(false) }
        return redis.send(RedisCommand("INCRBY", Self.key(user: user), amount), on: loop).flatMap { value in
            guard let total = value.int, total >= 0, UInt64(total) <= limit else {
                return self.release(user: user, bytes: bytes, on: loop).map { false }
            }
            return loop.makeSucceededFuture(true)
        }
    }

    /// Takes `bytes` off `user`'s count (never below 0).
    func release(user: String, bytes: UInt64, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let amount = Int64(exactly: bytes) else { return loop.makeSucceededVoidFuture() }
        return redis.send(RedisCommand("DECRBY", Self.key(user: user), amount), on: loop).flatMap { value in
            guard let total = value.int, total < 0 else { return loop.makeSucceededVoidFuture() }
            return redis.send(RedisCommand("SET", Self.key(user: user), 0), on: loop).map { _ in }
        }
    }
}
