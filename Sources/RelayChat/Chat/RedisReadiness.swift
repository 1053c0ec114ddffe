import NIOCore
import RelayOps
import RelayStore

/// Ready when the region's Redis answers PING through the relay's own
/// connection pool (so a pool stuck behind slow commands is not ready).
public struct RedisReadiness: ReadinessCheck {
    private let client: RedisClient

    /// A check of `client`.
    public init(client: RedisClient) {
        self.client = client
    }

    public var name: String { "redis" }

    public func check(on eventLoop: any EventLoop) -> EventLoopFuture<ReadinessResult> {
        let start = NIODeadline.now()
        return client.send(RedisCommand("PING"), on: eventLoop).map { reply in
            let micros = (NIODeadline.now() - start).nanoseconds / 1000
            if case .simpleString(let pong) = reply, pong == "PONG" {
                return .ready("PONG in \(micros) us")
            }
            return .notReady("unexpected reply to PING: \(reply)")
        }
    }
}
