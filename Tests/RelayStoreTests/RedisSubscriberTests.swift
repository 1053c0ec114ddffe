import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore
import Testing

/// A message as the handler saw it.
struct Received: Sendable, Equatable {
    var channel: String
    var payload: ByteBuffer
}

/// A subscriber whose messages and reconnects arrive as async streams.
struct ObservedSubscriber {
    let subscriber: RedisSubscriber
    let messages: AsyncStream<Received>
    let reconnects: AsyncStream<Void>

    init(configuration: RedisConfiguration) {
        let (messages, messageSink) = AsyncStream.makeStream(of: Received.self)
        let (reconnects, reconnectSink) = AsyncStream.makeStream(of: Void.self)
        self.messages = messages
        self.reconnects = reconnects
        self.subscriber = RedisSubscriber(
            configuration: configuration,
            onReconnect: { reconnectSink.yield() },
            handler: { channel, payload in messageSink.yield(Received(channel: channel, payload: payload)) }
        )
    }
}

/// The next element of `stream`, waiting at most `timeout`.
func next<T: Sendable>(_ stream: AsyncStream<T>, within timeout: Duration = .seconds(10), _ what: String) async throws -> T {
    try await withTimeout(timeout, what) {
        var iterator = stream.makeAsyncIterator()
        guard let value = await iterator.next() else { throw TimeoutError(what: "\(what) (stream ended)", timeout: timeout) }
        return value
    }
}

@Suite("RedisSubscriber against a real redis-server")
struct RedisSubscriberTests {
    @Test func subscribeReceiveUnsubscribe() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }
        let observed = ObservedSubscriber(configuration: server.configuration)
        defer { observed.subscriber.close() }

        let channel = RedisKey.deviceChannel("d1")
        try await withTimeout(.seconds(10), "subscribe") { try await observed.subscriber.subscribe(channel: channel) }
        #expect(observed.subscriber.channels == [channel])

        let payload = ByteBuffer(bytes: [0, 1, 2, 13, 10, 255])
        #expect(try await client.send(RedisCommand("PUBLISH", channel, payload)) == .integer(1))
        #expect(try await next(observed.messages, "message") == Received(channel: channel, payload: payload))

        try await withTimeout(.seconds(10), "unsubscribe") { try await observed.subscriber.unsubscribe(channel: channel) }
        #expect(observed.subscriber.channels.isEmpty)
        #expect(try await client.send(RedisCommand("PUBLISH", channel, "lost")) == .integer(0))

        // Delivery stopped: the next message to arrive is the marker sent after "lost".
        let marker = "marker"
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        try await observed.subscriber.subscribe(.classic(marker), on: eventLoop).get()
        #expect(try await client.send(RedisCommand("PUBLISH", marker, "m")) == .integer(1))
        #expect(try await next(observed.messages, "marker") == Received(channel: marker, payload: ByteBuffer(string: "m")))
    }

    @Test func manyChannelsAndMessagesInOrder() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }
        let observed = ObservedSubscriber(configuration: server.configuration)
        defer { observed.subscriber.close() }

        let channels = (0..<50).map { RedisKey.deviceChannel("dev\($0)") }
        try await withTimeout(.seconds(10), "subscribe 50") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for channel in channels { group.addTask { try await observed.subscriber.subscribe(channel: channel) } }
                try await group.waitForAll()
            }
        }
        let commands = (0..<1000).map { RedisCommand("PUBLISH", channels[$0 % 50], $0) }
        let counts = try await client.pipeline(commands)
        #expect(try counts.allSatisfy { try $0.get() == .integer(1) })
        let received = try await withTimeout(.seconds(10), "1000 messages") {
            var received: [Int] = []
            for await message in observed.messages {
                received.append(Int(String(buffer: message.payload))!)
                if received.count == 1000 { break }
            }
            return received
        }
        #expect(received == Array(0..<1000))
    }

    @Test func resubscribesAfterTheServerIsKilledAndRestarted() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }
        let observed = ObservedSubscriber(configuration: server.configuration)
        defer { observed.subscriber.close() }

        let channel = RedisKey.deviceChannel("d2")
        try await withTimeout(.seconds(10), "subscribe") { try await observed.subscriber.subscribe(channel: channel) }

        server.kill()
        try server.start()
        // onReconnect comes once the channel is subscribed again.
        try await next(observed.reconnects, within: .seconds(15), "onReconnect")
        let count = try await eventually("client reconnects") { try await client.send(RedisCommand("PUBLISH", channel, "again")) }
        #expect(count == .integer(1))
        #expect(try await next(observed.messages, "message after reconnect") == Received(channel: channel, payload: ByteBuffer(string: "again")))
    }

    @Test func resubscribesAfterClientKill() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }
        let observed = ObservedSubscriber(configuration: server.configuration)
        defer { observed.subscriber.close() }

        let channels = [RedisKey.deviceChannel("k1"), RedisKey.deviceChannel("k2")]
        for channel in channels {
            try await withTimeout(.seconds(10), "subscribe") { try await observed.subscriber.subscribe(channel: channel) }
        }
        // Redis drops the Pub/Sub connection; no server restart.
        #expect(try await client.send(RedisCommand("CLIENT", "KILL", "TYPE", "pubsub")) == .integer(1))
        try await next(observed.reconnects, within: .seconds(15), "onReconnect")
        // Both channels are subscribed again, on one new connection.
        let counts = try await client.send(RedisCommand("PUBSUB", "NUMSUB", channels[0], channels[1]))
        #expect(counts.array?.compactMap(\.int) == [1, 1])
        #expect(try await client.send(RedisCommand("PUBLISH", channels[1], "back")) == .integer(1))
        #expect(try await next(observed.messages, "message after reconnect") == Received(channel: channels[1], payload: ByteBuffer(string: "back")))
    }

    @Test func shardedAndClassicChannelsShareTheConnectionOnOneRedisAndComeBackAfterAKill() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }
        let observed = ObservedSubscriber(configuration: server.configuration)
        defer { observed.subscriber.close() }

        let sharded = ["d:s1", "d:s2"]
        for channel in sharded {
            try await withTimeout(.seconds(10), "ssubscribe") { try await observed.subscriber.subscribe(.sharded(channel)) }
        }
        try await withTimeout(.seconds(10), "subscribe") { try await observed.subscriber.subscribe(channel: "notices") }
        #expect(observed.subscriber.subscriptions == [.sharded("d:s1"), .sharded("d:s2"), .classic("notices")])
        #expect(observed.subscriber.channels == ["notices"])
        // Sharded channels are their own namespace: a classic PUBLISH to the same name reaches nobody.
        #expect(try await client.send(RedisCommand("PUBLISH", "d:s1", "x")) == .integer(0))
        #expect(try await client.send(RedisCommand("SPUBLISH", "d:s1", "one")) == .integer(1))
        #expect(try await next(observed.messages, "smessage") == Received(channel: "d:s1", payload: ByteBuffer(string: "one")))

        #expect(try await client.send(RedisCommand("CLIENT", "KILL", "TYPE", "pubsub")) == .integer(1))
        try await next(observed.reconnects, within: .seconds(15), "onReconnect")
        let counts = try await client.send(RedisCommand("PUBSUB", "SHARDNUMSUB", "d:s1", "d:s2"))
        #expect(counts.array?.compactMap(\.int) == [1, 1])
        #expect(try await client.send(RedisCommand("PUBSUB", "NUMSUB", "notices")).array?.last?.int == 1)
        #expect(try await client.send(RedisCommand("SPUBLISH", "d:s2", "back")) == .integer(1))
        #expect(try await next(observed.messages, "smessage after reconnect") == Received(channel: "d:s2", payload: ByteBuffer(string: "back")))

        try await withTimeout(.seconds(10), "sunsubscribe") { try await observed.subscriber.unsubscribe(.sharded("d:s2")) }
        #expect(try await client.send(RedisCommand("SPUBLISH", "d:s2", "gone")) == .integer(0))
    }

    @Test func closeRefusesLaterRequestsAndClosesTheConnection() async throws {
        let server = try RedisServerProcess()
        let observed = ObservedSubscriber(configuration: server.configuration)
        try await withTimeout(.seconds(10), "subscribe") { try await observed.subscriber.subscribe(channel: "c") }
        observed.subscriber.close()
        do {
            try await observed.subscriber.subscribe(channel: "d")
            Issue.record("subscribe after close should fail")
        } catch let error as RedisError {
            #expect(error.kind == .closed)
        }
        observed.subscriber.close()
        // The server no longer counts the subscriber.
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }
        _ = try await eventually("the server sees the connection closed") {
            try await client.send(RedisCommand("PUBSUB", "NUMSUB", "c")).array?.last == .integer(0) ? true : nil
        }
    }
}
