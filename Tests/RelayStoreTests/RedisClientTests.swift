import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore
import Testing

@Suite("RedisClient against a real redis-server")
struct RedisClientTests {
    @Test func binarySafeSetGetRoundTrip() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }

        // Every byte value, including NUL, CR and LF, in key and value.
        let value = ByteBuffer(bytes: Array(0...255) + [0, 13, 10, 0])
        let key: [UInt8] = [0x6B, 0x00, 0x0D, 0x0A, 0xFF]
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let set = try await client.send(RedisCommand("SET", key, value), on: eventLoop).get()
        #expect(set == .simpleString("OK"))
        let get = try await client.send(RedisCommand("GET", key))
        #expect(get == .bulk(value))
        #expect(get.bytes == Array(value.readableBytesView))
        // An empty value is a bulk string of length 0, not null.
        _ = try await client.send(RedisCommand("SET", "empty", ""))
        #expect(try await client.send(RedisCommand("GET", "empty")) == .bulk(ByteBuffer()))
    }

    @Test func replyKinds() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }

        #expect(try await client.send(RedisCommand("PING")) == .simpleString("PONG"))
        #expect(try await client.send(RedisCommand("INCRBY", "n", 41)).int == 41)
        #expect(try await client.send(RedisCommand("INCR", "n")) == .integer(42))
        #expect(try await client.send(RedisCommand("GET", "missing")) == .null)
        _ = try await client.send(RedisCommand("RPUSH", "list", "a", "b", 3))
        let range = try await client.send(RedisCommand("LRANGE", "list", 0, -1))
        #expect(range.array?.compactMap(\.string) == ["a", "b", "3"])
        #expect(try await client.send(RedisCommand("LRANGE", "nothing", 0, -1)) == .array([]))

        await #expect(throws: RedisError.self) { try await client.send(RedisCommand("NOSUCHCOMMAND")) }
        do {
            _ = try await client.send(RedisCommand("LPUSH", "n", "x"))
            Issue.record("LPUSH on a string should fail")
        } catch let error as RedisError {
            #expect(error.kind == .server("WRONGTYPE"))
        }

        // A pipeline keeps going past a failed command, and an error nested
        // in an array (EXEC) stays a value.
        let results = try await client.pipeline([
            RedisCommand("SET", "p", "1"),
            RedisCommand("INCR", "list"),
            RedisCommand("MULTI"),
            RedisCommand("INCR", "p"),
            RedisCommand("LPUSH", "p", "x"),
            RedisCommand("EXEC"),
            RedisCommand("GET", "p"),
        ])
        #expect(results.count == 7)
        #expect(try results[0].get() == .simpleString("OK"))
        #expect(throws: RedisError.self) { try results[1].get() }
        if case .failure(let error) = results[1] { #expect(error.kind == .server("WRONGTYPE")) }
        #expect(try results[5].get().array?.count == 2)
        if case .error(let text)? = try results[5].get().array?.last {
            #expect(text.hasPrefix("WRONGTYPE"))
        } else {
            Issue.record("EXEC should carry the nested error, got \(results[5])")
        }
        #expect(try results[6].get().string == "2")
    }

    @Test func tenThousandCommandsFromConcurrentCallersStayInOrder() async throws {
        let server = try RedisServerProcess()
        var configuration = server.configuration
        configuration.connectionCount = 3
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        let eventLoops = MultiThreadedEventLoopGroup.singleton

        // 40 callers x 200 awaited commands, and 4 callers x one pipeline of
        // 500: 10,000 commands in all, every reply checked in caller order.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<40 {
                group.addTask {
                    let key = "counter:\(caller)"
                    for expected in 1...200 {
                        let reply: RESPValue
                        if expected % 2 == 0 {
                            reply = try await client.send(RedisCommand("INCR", key))
                        } else {
                            reply = try await client.send(RedisCommand("INCR", key), on: eventLoops.next()).get()
                        }
                        #expect(reply == .integer(Int64(expected)), "caller \(caller)")
                    }
                }
            }
            for caller in 0..<4 {
                group.addTask {
                    let key = "list:\(caller)"
                    let commands = (0..<500).map { RedisCommand("RPUSH", key, $0) }
                    let results = try await client.pipeline(commands, on: eventLoops.next()).get()
                    #expect(try results.map { try $0.get() } == (1...500).map { RESPValue.integer(Int64($0)) })
                }
            }
            try await group.waitForAll()
        }
        let list = try await client.send(RedisCommand("LRANGE", "list:0", 0, -1))
        #expect(list.array?.compactMap(\.int) == Array(0..<500))
    }

    @Test func reconnectsAfterTheServerIsKilledAndRestarted() async throws {
        let server = try RedisServerProcess()
        var configuration = server.configuration
        configuration.connectionCount = 2
        let client = RedisClient(configuration: configuration)
        defer { client.close() }

        _ = try await client.send(RedisCommand("SET", "durable", "yes"))
        server.kill()
        do {
            _ = try await client.send(RedisCommand("PING"))
            Issue.record("PING to a killed server should fail")
        } catch let error as RedisError {
            #expect(error.kind == .connection)
        }
        try server.start()
        let pong = try await eventually("client reconnects") { try await client.send(RedisCommand("PING")) }
        #expect(pong == .simpleString("PONG"))
        // AOF with appendfsync always: the write survived SIGKILL.
        #expect(try await client.send(RedisCommand("GET", "durable")).string == "yes")
        // Both connections work again.
        for _ in 0..<20 { _ = try await client.send(RedisCommand("PING")) }
    }

    @Test func connectionFailureIsReportedFast() async throws {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: try RedisServerProcess.freeLoopbackPort())
        configuration.connectionCount = 1
        configuration.connectTimeout = .milliseconds(500)
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        do {
            _ = try await withTimeout(.seconds(5), "PING to nothing") { try await client.send(RedisCommand("PING")) }
            Issue.record("PING with no server should fail")
        } catch let error as RedisError {
            #expect(error.kind == .connection)
        }
    }
}

@Suite("RedisClient settings")
struct RedisClientSettingsTests {
    @Test func commandTimeoutFailsWithTimeoutAndTheConnectionRecovers() async throws {
        let server = try RedisServerProcess()
        var configuration = server.configuration
        configuration.connectionCount = 1
        configuration.commandTimeout = .milliseconds(200)
        let client = RedisClient(configuration: configuration)
        defer { client.close() }

        do {
            _ = try await client.send(RedisCommand("BLPOP", "never", 2))
            Issue.record("BLPOP past the command timeout should fail")
        } catch let error as RedisError {
            #expect(error.kind == .timeout)
        }
        // The timed-out connection was dropped; a new one works.
        #expect(try await client.send(RedisCommand("PING")) == .simpleString("PONG"))
    }

    @Test func authenticatesAndSelectsTheDatabase() async throws {
        let server = try RedisServerProcess(extraArguments: ["--requirepass", "s3cret"])

        let anonymous = RedisClient(configuration: server.configuration)
        defer { anonymous.close() }
        do {
            _ = try await anonymous.send(RedisCommand("PING"))
            Issue.record("PING without AUTH should fail")
        } catch let error as RedisError {
            #expect(error.kind == .server("NOAUTH"))
        }

        var wrong = server.configuration
        wrong.password = "wrong"
        wrong.connectionCount = 1
        let refused = RedisClient(configuration: wrong)
        defer { refused.close() }
        do {
            _ = try await refused.send(RedisCommand("PING"))
            Issue.record("a wrong password should fail")
        } catch let error as RedisError {
            #expect(error.kind == .server("WRONGPASS"))
        }

        var right = server.configuration
        right.password = "s3cret"
        right.database = 3
        let client = RedisClient(configuration: right)
        defer { client.close() }
        _ = try await client.send(RedisCommand("SET", "where", "db3"))
        let results = try await client.pipeline([
            RedisCommand("SELECT", 0), RedisCommand("EXISTS", "where"),
            RedisCommand("SELECT", 3), RedisCommand("GET", "where"),
        ])
        #expect(try results[1].get() == .integer(0))
        #expect(try results[3].get().string == "db3")
    }
}
