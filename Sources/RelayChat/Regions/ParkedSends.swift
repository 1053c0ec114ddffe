import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayStore
import SwiftProtobuf

/// Forwarded sends that arrived while their conversation's home was fenced
/// (failing back), so no region could sequence them, or while the region
/// serving that home did not hold its write lease (just restarted, or cut
/// off from a majority). Their devices already
/// have a PUBACK (the origin stored the forward durably), so they must not
/// be dropped. Refusing the frame does not work either: the link would stop
/// behind it, and failback waits for that link to drain. They are kept in
/// Redis (`r:parked`, in arrival order) and applied again, oldest first,
/// once their home is served.
final class ParkedSends: Sendable {
    static let key = "r:parked"

    private let redis: RedisClient
    private let logger: Logger
    private let draining = NIOLockedValueBox(false)

    init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    /// Keeps `forwarded` until its home is served by a region that may
    /// write; durable when it succeeds. `reason` is logged.
    func park(_ forwarded: Relay_V1_ForwardedSend, because reason: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let bytes: [UInt8]
        do {
            bytes = try forwarded.serializedBytes()
        } catch {
            return loop.makeFailedFuture(error)
        }
        logger.notice("forwarded send parked", metadata: [
            "reason": "\(reason)", "conversation": "\(forwarded.conversation)", "device": "\(forwarded.device)",
        ])
        return redis.send(RedisCommand("RPUSH", Self.key, RedisArgument.bytes(ByteBuffer(bytes: bytes))), on: loop).map { _ in }
    }

    /// Applies parked sends oldest first while `isServed` says their
    /// conversation's home is served and `apply` succeeds; stops at the first
    /// that cannot go yet (a later call goes on). One drain at a time.
    func drain(
        isServed: @escaping @Sendable (Relay_V1_ForwardedSend) -> EventLoopFuture<Bool>,
        apply: @escaping @Sendable (Relay_V1_ForwardedSend) -> EventLoopFuture<Void>,
        on loop: any EventLoop
    ) {
        let start = draining.withLockedValue { draining -> Bool in
            defer { draining = true }
            return !draining
        }
        guard start else { return }
        @Sendable func next() -> EventLoopFuture<Void> {
            redis.send(RedisCommand("LINDEX", Self.key, "0"), on: loop).flatMap { reply -> EventLoopFuture<Void> in
                guard let bytes = reply.bytes else { return loop.makeSucceededVoidFuture() }
                guard let forwarded = try? Relay_V1_ForwardedSend(serializedBytes: bytes) else {
                    self.logger.error("unreadable parked send dropped")
                    return self.redis.send(RedisCommand("LPOP", Self.key), on: loop).flatMap { _ in next() }
                }
                return isServed(forwarded).flatMap { served in
                    guard served else { return loop.makeSucceededVoidFuture() }
                    // Applied, then removed: a crash in between applies it twice, which dedup absorbs.
                    return apply(forwarded).flatMap {
                        self.redis.send(RedisCommand("LPOP", Self.key), on: loop)
                    }.flatMap { _ in next() }
                }
            }
        }
        next().whenComplete { result in
            self.draining.withLockedValue { $0 = false }
            if case .failure(let error) = result {
                self.logger.warning("parked sends not applied yet", metadata: ["error": "\(error)"])
            }
        }
    }
}
