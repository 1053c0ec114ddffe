import Foundation
import Logging
import RelayOps
import Synchronization
import Testing

/// The lines a handler wrote.
private final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct JSONLogHandlerTests {
    /// A handler whose lines land in `lines`, at a fixed time.
    private static func handler(_ lines: Lines, label: String = "relay.test") -> JSONLogHandler {
        var handler = JSONLogHandler(label: label, metadataProvider: nil, now: { Date(timeIntervalSince1970: 1_795_000_000.5) }) { line in
            lines.append(line)
        }
        handler.logLevel = .debug
        return handler
    }

    private static func object(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func oneObjectPerLineWithTheFields() throws {
        let lines = Lines()
        var logger = Logger(label: "relay.test") { label in Self.handler(lines, label: label) }
        logger[metadataKey: "peer"] = "127.0.0.1:5000"
        logger.info("connected", metadata: ["client": "d1", "count": "\(3)"])

        let written = lines.all
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try Self.object(line)
        #expect(object["timestamp"] as? String == "2026-11-18T11:06:40.500Z")
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "relay.test")
        #expect(object["message"] as? String == "connected")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["peer"] as? String == "127.0.0.1:5000")
        #expect(metadata["client"] as? String == "d1")
        #expect(metadata["count"] as? String == "3")
        #expect(Set(object.keys) == ["timestamp", "level", "label", "message", "metadata"])
    }

    @Test func escapesAndNestsWithoutBreakingTheLine() throws {
        let lines = Lines()
        let logger = Logger(label: "relay.test") { label in Self.handler(lines, label: label) }
        logger.warning("a \"quoted\"\nmulti-line\tmessage \u{1}", metadata: [
            "nested": ["list": ["a", "b"], "path": "c:\\d"],
        ])
        let line = try #require(lines.all.first)
        #expect(line.filter { $0 == "\n" }.count == 1)
        let object = try Self.object(line)
        #expect(object["level"] as? String == "warning")
        #expect(object["message"] as? String == "a \"quoted\"\nmulti-line\tmessage \u{1}")
        let nested = try #require((object["metadata"] as? [String: Any])?["nested"] as? [String: Any])
        #expect(nested["list"] as? [String] == ["a", "b"])
        #expect(nested["path"] as? String == "c:\\d")
    }

    @Test func noMetadataMeansNoMetadataKey() throws {
        let lines = Lines()
        let logger = Logger(label: "x") { label in Self.handler(lines, label: label) }
        logger.error("boom")
        let object = try Self.object(try #require(lines.all.first))
        #expect(object["metadata"] == nil)
        #expect(object["level"] as? String == "error")
    }
}
