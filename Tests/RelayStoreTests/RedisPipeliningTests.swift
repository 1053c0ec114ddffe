import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore
import Testing

/// Blocks the connection of `eventLoop` with a `BLPOP` on `key` (awaited
/// until Redis counts it as blocked, as `observer` sees) and returns its future.
private func blockConnection(
    _ client: RedisClient, on eventLoop: any EventLoop, key: String, observer: RedisClient
) async throws -> EventLoopFuture<RESPValue> {
    let blocking = client.send(RedisCommand("BLPOP", key, 30), on: eventLoop)
    _ = try await eventually("BLPOP is blocking", timeout: .seconds(30)) {
        let info = try await observer.send(RedisCommand("INFO", "clients")).string ?? ""
        return info.contains("blocked_clients:1") ? true : nil
    }
    return blocking
}

/// The kind of the error `future` fails with (nil when it succeeds), waiting at most 10 s.
private func failureKind<T: Sendable>(_ future: EventLoopFuture<T>, _ what: String) async throws -> RedisError.Kind? {
    try await withTimeout(.seconds(10), what) {
        do {
            _ = try await future.get()
            return nil
        } catch let error as RedisError {
            return error.kind
        }
    }
}

/// One event loop, shared by these tests (each test's client has its own
/// connection on it).
private let oneLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

@Suite("RedisClient on the event loops")
struct RedisPipeliningTests {
    @Test func manyConcurrentRequestsOnOneLoopArePipelinedAndAnsweredInOrder() async throws {
        let server = try RedisServerProcess()
        let group = oneLoop
        let client = RedisClient(configuration: server.configuration, eventLoopGroup: group)
        defer { client.close() }
        let eventLoop = group.next()
        _ = try await client.send(RedisCommand("PING"), on: eventLoop).get()
        let before = try await Self.commandsProcessed(client)

        // 5,000 requests issued in one go on the loop, none awaited before
        // the next: each reply must match its own request.
        let futures = try await eventLoop.submit {
            (0..<5_000).map { index -> EventLoopFuture<RESPValue> in
                index % 2 == 0
                    ? client.send(RedisCommand("INCR", "counter"), on: eventLoop)
                    : client.send(RedisCommand("ECHO", "reply \(index)"), on: eventLoop)
            }
        }.get()
        for (index, future) in futures.enumerated() {
            let reply = try await future.get()
            if index % 2 == 0 {
                #expect(reply == .integer(Int64(index / 2 + 1)), "request \(index)")
            } else {
                #expect(reply.string == "reply \(index)", "request \(index)")
            }
        }
        // One connection did it all: Redis counts exactly those commands
        // (plus the INFO that reads the counter).
        let after = try await Self.commandsProcessed(client)
        #expect(after - before == 5_001)
        let clients = try await client.send(RedisCommand("CLIENT", "LIST"), on: eventLoop).get().string ?? ""
        #expect(clients.split(separator: "\n").count == 1)
    }

    @Test func aLightLoadStaysOnOneConnectionAndABurstSpillsOverTheLoopsConnections() async throws {
        let server = try RedisServerProcess()
        var configuration = server.configuration
        configuration.connectionCount = 3
        let client = RedisClient(configuration: configuration, eventLoopGroup: oneLoop)
        defer { client.close() }
        let observer = RedisClient(configuration: server.configuration, eventLoopGroup: oneLoop)
        defer { observer.close() }
        let eventLoop = oneLoop.next()
        // Which connections ran a command of this name last (CLIENT LIST's cmd=).
        @Sendable func connectionsThatRan(_ command: String) async throws -> Int {
            let list = try await observer.send(RedisCommand("CLIENT", "LIST")).string ?? ""
            return list.split(separator: "\n").filter { $0.contains(" cmd=\(command) ") }.count
        }

        for _ in 0..<5 { _ = try await client.send(RedisCommand("PING"), on: eventLoop).get() }
        #expect(try await connectionsThatRan("ping") == 1)

        // About 90 KB in one tick: past 16 KiB per connection, the rest goes to the next.
        let value = String(repeating: "v", count: 150)
        let futures = try await eventLoop.submit {
            (0..<600).map { client.send(RedisCommand("ECHO", "\($0) \(value)"), on: eventLoop) }
        }.get()
        for (index, future) in futures.enumerated() {
            #expect(try await future.get().string == "\(index) \(value)")
        }
        #expect(try await connectionsThatRan("echo") == 3)
    }

    private static func commandsProcessed(_ client: RedisClient) async throws -> Int {
        let info = try await client.send(RedisCommand("INFO", "stats")).string ?? ""
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("total_commands_processed:") {
            return Int(line.dropFirst("total_commands_processed:".count)) ?? -1
        }
        return -1
    }

    @Test func clientKillFailsInFlightRequestsTypedAndLaterRequestsSucceed() async throws {
        let server = try RedisServerProcess()
        let group = oneLoop
        var configuration = server.configuration
        configuration.commandTimeout = .seconds(60)
        let client = RedisClient(configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        let observer = RedisClient(configuration: server.configuration, eventLoopGroup: oneLoop)
        defer { observer.close() }
        let eventLoop = group.next()

        let blocking = try await blockConnection(client, on: eventLoop, key: "never", observer: observer)
        let behind = (0..<10).map { client.send(RedisCommand("ECHO", "\($0)"), on: eventLoop) }
        // Kill every client but the observer: the pipelined connection dies mid-flight.
        _ = try await observer.send(RedisCommand("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"))
        #expect(try await failureKind(blocking, "BLPOP fails") == .connection)
        for future in behind {
            #expect(try await failureKind(future, "pipelined ECHO fails") == .connection)
        }
        // It reconnects by itself: the next request works (no retry needed
        // unless it raced the reconnect).
        let pong = try await eventually("client reconnects") { try await client.send(RedisCommand("PING"), on: eventLoop).get() }
        #expect(pong == .simpleString("PONG"))
        #expect(try await client.send(RedisCommand("ECHO", "after"), on: eventLoop).get().string == "after")
    }

    @Test func serverRestartFailsInFlightRequestsTypedAndLaterRequestsSucceed() async throws {
        let server = try RedisServerProcess()
        let group = oneLoop
        var configuration = server.configuration
        configuration.commandTimeout = .seconds(60)
        let client = RedisClient(configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        let observer = RedisClient(configuration: server.configuration, eventLoopGroup: oneLoop)
        defer { observer.close() }
        let eventLoop = group.next()

        _ = try await client.send(RedisCommand("SET", "durable", "yes"), on: eventLoop).get()
        let blocking = try await blockConnection(client, on: eventLoop, key: "never", observer: observer)
        server.kill()
        #expect(try await failureKind(blocking, "BLPOP fails") == .connection)
        // While the server is down, requests fail fast, typed.
        #expect(try await failureKind(client.send(RedisCommand("PING"), on: eventLoop), "PING to nothing") == .connection)
        try server.start()
        let pong = try await eventually("client reconnects") { try await client.send(RedisCommand("PING"), on: eventLoop).get() }
        #expect(pong == .simpleString("PONG"))
        #expect(try await client.send(RedisCommand("GET", "durable"), on: eventLoop).get().string == "yes")
    }

    @Test func backPressureRefusesRequestsPastTheLimitWithOverloaded() async throws {
        let server = try RedisServerProcess()
        let group = oneLoop
        var configuration = server.configuration
        configuration.commandTimeout = .seconds(60)
        configuration.maximumPendingCommands = 10
        let client = RedisClient(configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        let observer = RedisClient(configuration: server.configuration, eventLoopGroup: oneLoop)
        defer { observer.close() }
        let eventLoop = group.next()

        // The BLPOP holds up the connection: 1 + 9 pending fill the window.
        let blocking = try await blockConnection(client, on: eventLoop, key: "wake", observer: observer)
        let admitted = (0..<9).map { client.send(RedisCommand("ECHO", "\($0)"), on: eventLoop) }
        let refused = client.send(RedisCommand("ECHO", "one too many"), on: eventLoop)
        let refusedPipeline = client.pipeline([RedisCommand("PING")], on: eventLoop)
        #expect(try await failureKind(refused, "refused at once") == .overloaded)
        let results = try await withTimeout(.seconds(10), "refused pipeline") { try await refusedPipeline.get() }
        if case .failure(let error) = results[0] {
            #expect(error.kind == .overloaded)
        } else {
            Issue.record("the pipeline past the limit should be refused, got \(results)")
        }

        // Once Redis answers, the window drains and requests go again.
        _ = try await observer.send(RedisCommand("LPUSH", "wake", "up"))
        #expect(try await blocking.get().array?.count == 2)
        for (index, future) in admitted.enumerated() {
            #expect(try await future.get().string == "\(index)")
        }
        #expect(try await client.send(RedisCommand("PING"), on: eventLoop).get() == .simpleString("PONG"))
    }

    @Test(arguments: [
        ("not RESP", Array("?what is this\r\n".utf8), RedisError.Kind.protocol),
        // hiredis waits for the bytes announced: the size limit stops it, or
        // the command timeout when the server sends nothing more.
        ("a huge bulk length", Array("$9223372036854775807\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 5_000), RedisError.Kind.protocol),
        ("a huge bulk length, then silence", Array("$9223372036854775807\r\n".utf8), RedisError.Kind.timeout),
        ("a negative array length", Array("*-5\r\n".utf8), RedisError.Kind.protocol),
        ("a bad integer", Array(":12x\r\n".utf8), RedisError.Kind.protocol),
        ("arrays nested too deep", Array(String(repeating: "*1\r\n", count: 12).utf8) + Array(":1\r\n".utf8), RedisError.Kind.protocol),
        ("a reply over the size limit", Array("$100000\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 20_000), RedisError.Kind.protocol),
    ])
    func aBadReplyFailsTypedWithoutCrashing(what: String, reply: [UInt8], kind: RedisError.Kind) async throws {
        let server = try await RawRESPServer(reply: reply, thenClose: false)
        var configuration = RedisConfiguration(host: "127.0.0.1", port: server.port)
        configuration.maximumReplyBytes = 4_096
        configuration.commandTimeout = .seconds(1)
        let group = oneLoop
        let client = RedisClient(configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        do {
            let reply = try await withTimeout(.seconds(10), what) { try await client.send(RedisCommand("GET", "k")) }
            Issue.record("\(what): expected a failure, got \(reply)")
        } catch let error as RedisError {
            #expect(error.kind == kind, "\(what): \(error)")
        }
        try await server.close()
    }

    @Test func aServerThatClosesMidReplyFailsTheRequestWithConnection() async throws {
        let server = try await RawRESPServer(reply: Array("$10\r\nabc".utf8), thenClose: true)
        var configuration = RedisConfiguration(host: "127.0.0.1", port: server.port)
        configuration.commandTimeout = .seconds(30)
        configuration.minimumReconnectDelay = .seconds(5)
        let group = oneLoop
        let client = RedisClient(configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        do {
            let reply = try await withTimeout(.seconds(10), "GET") { try await client.send(RedisCommand("GET", "k")) }
            Issue.record("expected a failure, got \(reply)")
        } catch let error as RedisError {
            #expect(error.kind == .connection)
            #expect(error.message.contains("middle of a reply"))
        }
        try await server.close()
    }

    @Test func closeFailsRequestsInFlightAndLaterOnesAndClosesTheConnection() async throws {
        let server = try RedisServerProcess()
        let group = oneLoop
        var configuration = server.configuration
        configuration.commandTimeout = .seconds(60)
        let client = RedisClient(configuration: configuration, eventLoopGroup: group)
        let observer = RedisClient(configuration: server.configuration, eventLoopGroup: oneLoop)
        defer { observer.close() }
        let eventLoop = group.next()

        let blocking = try await blockConnection(client, on: eventLoop, key: "never", observer: observer)
        let behind = (0..<5).map { _ in client.send(RedisCommand("PING"), on: eventLoop) }
        try await withTimeout(.seconds(10), "close() returns") { client.close() }
        #expect(try await failureKind(blocking, "BLPOP fails") == .closed)
        for future in behind { #expect(try await failureKind(future, "PING fails") == .closed) }
        #expect(try await failureKind(client.send(RedisCommand("PING"), on: eventLoop), "PING after close") == .closed)
        client.close()  // A second close does nothing.
        _ = try await eventually("the server sees the connection closed") {
            let info = try await observer.send(RedisCommand("INFO", "clients")).string ?? ""
            return info.contains("connected_clients:1\r") ? true : nil
        }
    }
}
