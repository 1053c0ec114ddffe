import NIOCore
import NIOEmbedded
import Testing

@testable import RelayStore

@Suite("RESP codec (hiredis as a pure codec)")
struct RESPCodecTests {
    @Test func encodesCommandsAsArraysOfBulkStrings() throws {
        var buffer = ByteBuffer()
        try RedisCommand("SET", "k", ByteBuffer(bytes: [0, 13, 10]), 42).encode(into: &buffer)
        try RedisCommand("PING").encode(into: &buffer)
        let expected = "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\u{0}\r\n\r\n$2\r\n42\r\n*1\r\n$4\r\nPING\r\n"
        #expect(Array(buffer.readableBytesView) == Array(expected.utf8))
    }

    @Test func decodesRepliesSplitAnywhere() throws {
        let bytes = Array("+OK\r\n:-7\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n$1\r\nx\r\n-ERR nope\r\n*0\r\n".utf8)
        let expected: [RESPValue] = [
            .simpleString("OK"), .integer(-7), .bulk(ByteBuffer(string: "a\r\n")), .null,
            .array([.bulk(ByteBuffer(string: "x")), .error("ERR nope")]), .array([]),
        ]
        // Every split point, and one byte at a time.
        for split in 0...bytes.count {
            let reader = try RESPReader(maximumReplyBytes: 1024)
            var replies: [RESPValue] = []
            for part in [bytes[..<split], bytes[split...]] {
                try reader.feed(ByteBuffer(bytes: part))
                while let reply = try reader.next() { replies.append(reply) }
            }
            #expect(replies == expected, "split at \(split)")
        }
        let reader = try RESPReader(maximumReplyBytes: 1024)
        var replies: [RESPValue] = []
        for byte in bytes {
            try reader.feed(ByteBuffer(bytes: [byte]))
            while let reply = try reader.next() { replies.append(reply) }
        }
        #expect(replies == expected)
    }

    @Test func refusesAReplyPastTheLimitBeforeItCompletes() throws {
        let reader = try RESPReader(maximumReplyBytes: 100)
        try reader.feed(ByteBuffer(string: "$1000\r\n" + String(repeating: "a", count: 50)))
        #expect(try reader.next() == nil)
        try reader.feed(ByteBuffer(string: String(repeating: "a", count: 100)))
        #expect(throws: RedisError.self) { try reader.next() }
    }

    @Test func handlerRunsTheHandshakeAndReportsARefusal() throws {
        var failures: [RedisError] = []
        var ready = 0
        let handler = try RedisChannelHandler(
            handshake: [RedisCommand("AUTH", "secret"), RedisCommand("SELECT", 2)],
            maximumReplyBytes: 1024,
            onReady: { ready += 1 },
            onReply: { _ in Issue.record("no reply expected") },
            onFailure: { failures.append($0) }
        )
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
        var written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(written.readString(length: written.readableBytes)?.hasPrefix("*2\r\n$4\r\nAUTH\r\n") == true)
        try channel.writeInbound(ByteBuffer(string: "-WRONGPASS invalid\r\n"))
        #expect(failures.map(\.kind) == [.server("WRONGPASS")])
        #expect(ready == 0)
        #expect(!channel.isActive)
    }

    @Test func handlerHandsRepliesOverInOrderAfterTheHandshake() throws {
        var replies: [RESPValue] = []
        var failures: [RedisError] = []
        var ready = 0
        let handler = try RedisChannelHandler(
            handshake: [RedisCommand("SELECT", 2)],
            maximumReplyBytes: 1024,
            onReady: { ready += 1 },
            onReply: { replies.append($0) },
            onFailure: { failures.append($0) }
        )
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n:1\r\n:"))
        #expect(ready == 1)
        try channel.writeInbound(ByteBuffer(string: "2\r\n$2\r\nab"))
        #expect(replies == [.integer(1), .integer(2)])
        // The server goes away in the middle of the bulk string.
        channel.pipeline.fireChannelInactive()
        #expect(failures.map(\.kind) == [.connection])
        #expect(failures.first?.message.contains("middle of a reply") == true)
    }
}
