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
    /// Buckets of devices connected here, by device (a device held with no
    /// state for a bucket yet takes its first token from Redis).
    private let held = NIOLockedValueBox<[String: [Bucket: TokenBucketState]]>([:])

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
        guard let states = held.withLockedValue({ $0.removeValue(forKey: device) }), !states.isEmpty else { return }
        var commands: [RedisCommand] = []
        for (bucket, state) in states {
            let key = Self.key(bucket, device: device)
            commands.append(RedisCommand(
                "HSET", key, "tokens", String(format: "%.17g", state.tokens), "updated", "\(state.updatedAtMilliseconds)"
            ))
            commands.append(RedisCommand("PEXPIRE", key, "\(parameters(bucket).idleExpiryMilliseconds)"))
        }
        redis.pipeline(commands, on: loop).whenFailure { error in
            self.logger.warning("rate limit state not written back", metadata: ["device": "\(device)", "error": "\(error)"])
        }
    }

    /// Takes one token from `device`'s `bucket`: nil when the traffic may go
    /// ahead, else the refusal ("rate_limited" with `retry_after_seconds`).
    /// Never fails. In memory when the bucket is held here.
    func admit(_ bucket: Bucket, device: String, on loop: any EventLoop) -> EventLoopFuture<ChatError?> {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let p = parameters(bucket)
        let local = held.withLockedValue { held -> TokenBucketDecision? in
            guard let state = held[device]?[bucket] else { return nil }
            let decision = TokenBucket.take(p, state: state, nowMilliseconds: now)
            held[device]?[bucket] = decision.state
            return decision
        }
        if let local {
            return loop.makeSucceededFuture(RateLimited(local).map { ChatError($0) })
        }
        return redis.send(command(bucket, device: device), on: loop).flatMapThrowing { reply -> ChatError? in
            guard let values = reply.array, values.count == 4, let allowed = values[0].int, let wait = values[1].int,
                  let tokens = values[2].string.flatMap({ Double($0) }), let updated = values[3].int
            else {
                throw ChatError.storeReply("rate_limit.lua answered \(reply)")
            }
            self.held.withLockedValue { held in
                // Held from here on (unless the device left meanwhile or a concurrent take got there first).
                if held[device] != nil, held[device]?[bucket] == nil {
                    held[device]?[bucket] = TokenBucketState(tokens: tokens, updatedAtMilliseconds: Int64(updated))
                }
            }
            if allowed == 1 { return nil }
            return ChatError(RateLimited(retryAfterSeconds: UInt32(clamping: (wait + 999) / 1000)))
        }.flatMapError { error in
            self.logger.warning("rate limit not checked", metadata: ["device": "\(device)", "bucket": "\(bucket)", "error": "\(error)"])
            return loop.makeSucceededFuture(nil)
        }
    }

    /// The client message id of a `Send` payload, "" when it is none (for a
    /// refusal sent before the payload is otherwise looked at).
    static func clientMessageID(in message: MQTTMessage) -> String {
        (try? Relay_V1_Send(serializedBytes: Array(message.payload.readableBytesView)))?.clientMessageID ?? ""
    }

    /// The request id of a `Request` payload, "" when it is none.
    static func requestID(in message: MQTTMessage) -> String {
        (try? Relay_V1_Request(serializedBytes: Array(message.payload.readableBytesView)))?.requestID ?? ""
    }
}
