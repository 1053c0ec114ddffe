import Logging
import MQTTServer
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
        let p: TokenBucketParameters
        switch bucket {
        case .send: p = sends
        case .request: p = requests
        case .keyFetch: p = keyFetches
        case .typing: p = typing
        }
        return script.command(
            keys: [Self.key(bucket, device: device)],
            arguments: [
                "\(p.capacity)", "\(p.refillPerSecond)", now.map { "\($0)" } ?? "", "\(cost)",
                "\(p.idleExpiryMilliseconds)",
            ]
        )
    }

    /// Takes one token from `device`'s `bucket`: nil when the traffic may go
    /// ahead, else the refusal ("rate_limited" with `retry_after_seconds`).
    /// Never fails.
    func admit(_ bucket: Bucket, device: String, on loop: any EventLoop) -> EventLoopFuture<ChatError?> {
        redis.send(command(bucket, device: device), on: loop).flatMapThrowing { reply -> ChatError? in
            guard let values = reply.array, values.count == 2, let allowed = values[0].int, let wait = values[1].int else {
                throw ChatError.storeReply("rate_limit.lua answered \(reply)")
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
