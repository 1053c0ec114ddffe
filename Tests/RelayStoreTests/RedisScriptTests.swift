import NIOCore
import NIOPosix
import RedisTestSupport
import RelayStore
import Testing

@Suite("Lua scripts")
struct RedisScriptTests {
    @Test func sha1MatchesKnownVectors() {
        #expect(RedisScript(name: "", source: "").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript(name: "", source: "abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(
            RedisScript(name: "", source: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").sha1
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        )
        #expect(RedisScript(name: "", source: String(repeating: "a", count: 1_000_000)).sha1 == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func libraryShipsScripts() throws {
        #expect(ScriptLibrary.names.contains("echo_keys"))
        let script = try ScriptLibrary.load("echo_keys")
        #expect(script.name == "echo_keys")
        #expect(script.source.contains("KEYS"))
        #expect(throws: ScriptLibraryError(name: "no_such_script")) { try ScriptLibrary.load("no_such_script") }
    }

    @Test func loadsRunsAndRecoversFromScriptFlush() async throws {
        let server = try RedisServerProcess()
        var configuration = server.configuration
        configuration.connectionCount = 1
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        let script = try ScriptLibrary.load("echo_keys")

        // Redis names the script by the same SHA1.
        let loaded = try await client.send(RedisCommand("SCRIPT", "LOAD", script.source))
        #expect(loaded.string == script.sha1)
        _ = try await client.send(RedisCommand("SCRIPT", "FLUSH"))
        #expect(try await client.send(RedisCommand("SCRIPT", "EXISTS", script.sha1)) == .array([.integer(0)]))

        // First run on this connection loads it.
        let binary = ByteBuffer(bytes: [0, 1, 255])
        let reply = try await client.evaluate(script, keys: ["{c:1}:a", "{c:1}:b"], arguments: [binary, 7])
        #expect(reply == .array([.bulk(ByteBuffer(string: "{c:1}:a")), .bulk(ByteBuffer(string: "{c:1}:b")), .bulk(binary), .bulk(ByteBuffer(string: "7"))]))
        #expect(try await client.send(RedisCommand("SCRIPT", "EXISTS", script.sha1)) == .array([.integer(1)]))

        // The server forgets it; the client gets NOSCRIPT, loads it again and retries.
        _ = try await client.send(RedisCommand("SCRIPT", "FLUSH"))
        #expect(try await client.evaluate(script, keys: ["k"]) == .array([.bulk(ByteBuffer(string: "k"))]))

        // The same in a pipeline, with other commands around it.
        _ = try await client.send(RedisCommand("SCRIPT", "FLUSH"))
        let results = try await client.pipeline([
            script.command(keys: ["x"]),
            RedisCommand("PING"),
            script.command(arguments: ["y"]),
        ])
        #expect(try results.map { try $0.get() } == [
            .array([.bulk(ByteBuffer(string: "x"))]),
            .simpleString("PONG"),
            .array([.bulk(ByteBuffer(string: "y"))]),
        ])

        // With futures too.
        _ = try await client.send(RedisCommand("SCRIPT", "FLUSH"))
        let future = client.send(script.command(keys: ["f"]), on: MultiThreadedEventLoopGroup.singleton.next())
        #expect(try await future.get() == .array([.bulk(ByteBuffer(string: "f"))]))
    }

    @Test func scriptErrorCodesReachTheCaller() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(configuration: server.configuration)
        defer { client.close() }

        let failWith = try ScriptLibrary.load("fail_with")
        do {
            _ = try await client.evaluate(failWith, arguments: ["NOT_MEMBER x"])
            Issue.record("the script should fail")
        } catch let error as RedisError {
            #expect(error.kind == .server("NOT_MEMBER"))
            #expect(error.serverCode == "NOT_MEMBER")
            #expect(error.message == "x")
        }

        let inline = RedisScript(name: "inline", source: "return redis.error_reply('QUEUE_FULL device d1')")
        let results = try await client.pipeline([inline.command(), RedisCommand("PING")])
        if case .failure(let error) = results[0] {
            #expect(error.kind == .server("QUEUE_FULL"))
            #expect(error.message == "device d1")
        } else {
            Issue.record("expected QUEUE_FULL, got \(results[0])")
        }
        #expect(try results[1].get() == .simpleString("PONG"))

        // A script that does not compile reports the compile error (not NOSCRIPT).
        let broken = RedisScript(name: "broken", source: "return (")
        do {
            _ = try await client.evaluate(broken)
            Issue.record("a broken script should fail")
        } catch let error as RedisError {
            #expect(error.kind == .server("ERR"))
            #expect(error.message.contains("compil"))
        }
        // ... and the connection is still fine.
        #expect(try await client.send(RedisCommand("PING")) == .simpleString("PONG"))
    }
}
