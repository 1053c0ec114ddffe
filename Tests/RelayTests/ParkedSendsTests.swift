import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisTestSupport
@testable import RelayChat
import RelayCore
import RelayStore
import Testing

/// Forwarded sends parked while their home is fenced, against a real redis-server.
@Suite("Parked forwarded sends against a real redis-server")
struct ParkedSendsTests {
    static func forwarded(_ id: String) -> Relay_V1_ForwardedSend {
        var f = Relay_V1_ForwardedSend()
        f.conversation = "alice~bob"
        f.user = "alice"
        f.device = "alice-phone"
        f.send.clientMessageID = id
        return f
    }

    @Test func keptUntilTheHomeIsServedThenAppliedOldestFirstAndRemoved() async throws {
        let server = try RedisServerProcess()
        let redis = RedisClient(configuration: server.configuration)
        defer { redis.close() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let parked = ParkedSends(redis: redis, logger: Logger(label: "test"))
        for id in ["m1", "m2", "m3"] { try await parked.park(Self.forwarded(id), because: "a test", on: loop).get() }

        let served = NIOLockedValueBox(false)
        let applied = NIOLockedValueBox<[String]>([])
        let asked = NIOLockedValueBox(0)
        @Sendable func drain() {
            parked.drain(
                isServed: { _ in
                    asked.withLockedValue { $0 += 1 }
                    return loop.makeSucceededFuture(served.withLockedValue { $0 })
                },
                apply: { f in
                    applied.withLockedValue { $0.append(f.send.clientMessageID) }
                    return loop.makeSucceededVoidFuture()
                },
                on: loop
            )
        }

        // Still fenced: nothing applied, nothing removed.
        drain()
        try await eventually("the drain to ask about the oldest") { asked.withLockedValue { $0 } > 0 ? () : nil }
        #expect(applied.withLockedValue { $0 }.isEmpty)
        #expect(try await redis.send(RedisCommand("LLEN", ParkedSends.key)).int == 3)

        // Served again: applied oldest first, and the list is empty. (A drain
        // still running ignores a second call, as the sweeper would retry.)
        served.withLockedValue { $0 = true }
        try await eventually("the parked sends to be applied") {
            drain()
            return try await redis.send(RedisCommand("LLEN", ParkedSends.key)).int == 0 ? () : nil
        }
        #expect(applied.withLockedValue { $0 } == ["m1", "m2", "m3"])
    }
}
