import Foundation
import Logging
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayStore
import SwiftProtobuf

/// Per-device token buckets in Redis (`rate_limit.lua`, the math of
/// RelayCore's `TokenBucket`): one for sends, one for requests and a
/// stricter one for `keys.fetch`. Each bucket is a hash under the device's
/// hash tag that expires once the bucket would be full again, and time is
/// the Redis server's clock, the same for every node.
///
/// While a device is connected to this node, the node holds its buckets
/// (`hold`): the first take of each goes to Redis and returns the state,
/// later takes are `TokenBucket.take` in memory on this node's clock, with
/// no round trip before a send is accepted; `release` writes the states
/// back when the device goes (docs/decisions/0009).
///
/// A take that Redis cannot answer lets the traffic through (and logs): the
/// store it was going to use will refuse it anyway if Redis is down.
final class RateLimiter: Sendable {
    /// Which bucket a piece of traffic takes from.
    enum Bucket: String, Sendable {
        case send
        case request
        case keyFetch = "keys"
        case typing

        /// The bucket for the request method `method`.
        init(method: String) {
            self = method == "keys.fetch" ? .keyFetch : .request
        }
    }

    private let redis: RedisClient
    private let script: RedisScript
    private let sends: TokenBucketParameters
    private let requests: TokenBucketParameters
    private let keyFetches: TokenBucketParameters
    private let typing: TokenBucketParameters
    private let logger: Logger
    /// A held bucket: its first take is on its way to Redis, or its state is here.
    private enum Held {
        case loading(EventLoopFuture<Void>)
        case ready(TokenBucketState)
    }

    /// Buckets of devices connected here, by device (a device held with no
    /// entry for a bucket yet takes its first token from Redis; takes that
    /// come meanwhile wait for it, so none is counted twice).
    private let held = NIOLockedValueBox<[String: [Bucket: Held]]>([:])

    init(redis: RedisClient, configuration: ChatConfiguration, logger: Logger) throws {
        self.redis = redis
        self.script = try ScriptLibrary.load("rate_limit")
        self.sends = TokenBucketParameters(capacity: Double(configuration.sendBurst), refillPerSecond: configuration.sendsPerSecond)
        self.requests = TokenBucketParameters(capacity: Double(configuration.requestBurst), refillPerSecond: configuration.requestsPerSecond)
        self.keyFetches = TokenBucketParameters(capacity: Double(configuration.keyFetchBurst), refillPerSecond: configuration.keyFetchesPerSecond)
        self.typing = TokenBucketParameters(capacity: Double(configuration.typingBurst), refillPerSecond: configuration.typingPerSecond)
        self.logger = logger
    }

    /// The key of `device`'s bucket.
    static func key(_ bucket: Bucket, device: String) -> String {
        "\(ChatStore.device(device)):rl:\(bucket.rawValue)"
    }

    /// The `rate_limit.lua` call taking `cost` tokens; `now` nil uses the
    /// Redis server's clock.
    func command(_ bucket: Bucket, device: String, nowMilliseconds now: Int64? = nil, cost: Double = 1) -> RedisCommand {
        let p = parameters(bucket)
        return script.command(
            keys: [Self.key(bucket, device: device)],
            arguments: [
                "\(p.capacity)", "\(p.refillPerSecond)", now.map { "\($0)" } ?? "", "\(cost)",
                "\(p.idleExpiryMilliseconds)",
            ]
        )
    }

    private func parameters(_ bucket: Bucket) -> TokenBucketParameters {
        switch bucket {
        case .send: return sends
        case .request: return requests
        case .keyFetch: return keyFetches
        case .typing: return typing
        }
    }

    /// `device` is connected here: its buckets are held in memory from its next takes on.
    func hold(device: String) {
        held.withLockedValue { held in
            if held[device] == nil { held[device] = [:] }
        }
    }

    /// `device` left this node: its held buckets are written back to Redis,
    /// as `rate_limit.lua` would have stored them.
    func release(device: String, on loop: any EventLoop) {
        guard let buckets = held.withLockedValue({ $0.removeValue(forKey: device) }) else { return }
        var commands: [RedisCommand] = []
        for (bucket, entry) in buckets {
            guard case .ready(let state) = entry else { continue }
            let key = Self.key(bucket, device: device)
            commands.append(RedisCommand(
                "HSET", key, "tokens", String(format: "%.17g", state.tokens), "updated", "\(state.updatedAtMilliseconds)"
            ))
            commands.append(RedisCommand("PEXPIRE", key, "\(parameters(bucket).idleExpiryMilliseconds)"))
        }
        guard !commands.isEmpty else { return }
        redis.pipeline(commands, on: loop).whenFailure { error in
            self.logger.warning("rate limit state not written back", metadata: ["device": "\(device)", "error": "\(error)"])
        }
    }

    /// Takes one token from `device`'s `bucket`: nil when the traffic may go
    /// ahead, else the refusal ("rate_limited" with `retry_after_seconds`).
    /// Never fails. In memory when the bucket is held here.
    func admit(_ bucket: Bucket, device: String, on loop: any EventLoop) -> EventLoopFuture<ChatError?> {
        enum Step {
            case decided(TokenBucketDecision)
            case wait(EventLoopFuture<Void>)
            /// To Redis; the promise (when held) tells waiting takes the state is here.
            case redis(EventLoopPromise<Void>?)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let p = parameters(bucket)
        let step = held.withLockedValue { held -> Step in
            guard held[device] != nil else { return .redis(nil) }
            switch held[device]?[bucket] {
            case .ready(let state):
                let decision = TokenBucket.take(p, state: state, nowMilliseconds: now)
                held[device]?[bucket] = .ready(decision.state)
                return .decided(decision)
            case .loading(let loaded):
                return .wait(loaded)
            case nil:
                let loaded = loop.makePromise(of: Void.self)
                held[device]?[bucket] = .loading(loaded.futureResult)
                return .redis(loaded)
            }
        }
        switch step {
        case .decided(let decision):
            return loop.makeSucceededFuture(RateLimited(decision).map { ChatError($0) })
        case .wait(let loaded):
            return loaded.hop(to: loop).flatMap { self.admit(bucket, device: device, on: loop) }
        case .redis(let loaded):
            return takeFromRedis(bucket, device: device, loaded: loaded, on: loop)
        }
    }

    /// A take by `rate_limit.lua`; with `loaded`, the state it returns is held from here on.
    private func takeFromRedis(_ bucket: Bucket, device: String, loaded: EventLoopPromise<Void>?, on loop: any EventLoop) -> EventLoopFuture<ChatError?> {
        redis.send(command(bucket, device: device), on: loop).flatMapThrowing { reply -> ChatError? in
            guard let values = reply.array, values.count == 4, let allowed = values[0].int, let wait = values[1].int,
                  let tokens = values[2].string.flatMap({ Double($0) }), let updated = values[3].int
            else {
                throw ChatError.storeReply("rate_limit.lua answered \(reply)")
            }
            if let loaded {
                self.held.withLockedValue { held in
                    // Unless the device left meanwhile.
                    if held[device] != nil {
                        held[device]?[bucket] = .ready(TokenBucketState(tokens: tokens, updatedAtMilliseconds: Int64(updated)))
                    }
                }
                loaded.succeed(())
            }
            if allowed == 1 { return nil }
            return ChatError(RateLimited(retryAfterSeconds: UInt32(clamping: (wait + 999) / 1000)))
        }.flatMapError { error in
            if let loaded {
                // The next take tries Redis again.
                self.held.withLockedValue { held in
                    if case .loading = held[device]?[bucket] { held[device]?[bucket] = nil }
                }
                loaded.succeed(())
            }
            self.logger.warning("rate limit not checked", metadata: ["device": "\(device)", "bucket": "\(bucket)", "error": "\(error)"])
            return loop.makeSucceededFuture(nil)
        }
    }

    /// The request id of a `Request` payload, "" when it is none.
    static func requestID(in message: MQTTMessage) -> String {
        (try? Relay_V1_Request(serializedBytes: Array(message.payload.readableBytesView)))?.requestID ?? ""
    }
}
