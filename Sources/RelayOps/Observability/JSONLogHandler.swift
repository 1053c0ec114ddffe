import Foundation
import Logging

/// A `LogHandler` that writes one JSON object per event, on one line:
/// `{"timestamp":"…","level":"info","label":"relay.serve","message":"…","metadata":{…}}`.
///
/// Metadata merges, in order of precedence, the event's, the handler's and
/// the metadata provider's. Nested values become JSON objects and arrays;
/// everything else is a string.
public struct JSONLogHandler: LogHandler {
    /// Where a finished line goes (with its newline).
    public typealias Sink = @Sendable (String) -> Void

    private let label: String
    private let sink: Sink
    /// The event's time; replaceable in tests.
    private let now: @Sendable () -> Date

    /// Events below this level are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every event of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Metadata computed for every event (swift-log's task-local providers).
    public var metadataProvider: Logger.MetadataProvider?

    /// A handler that passes each line to `sink`.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider, now: @escaping @Sendable () -> Date = { Date() }, sink: @escaping Sink) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.now = now
        self.sink = sink
    }

    /// A handler that writes to standard error.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) -> JSONLogHandler {
        JSONLogHandler(label: label, metadataProvider: metadataProvider) { line in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, handler in handler }
        if let extra = event.metadata { merged.merge(extra) { _, event in event } }

        var line = "{\"timestamp\":"
        Self.appendString(Self.timestamp(now()), to: &line)
        line += ",\"level\":"
        Self.appendString(event.level.rawValue, to: &line)
        line += ",\"label\":"
        Self.appendString(label, to: &line)
        line += ",\"message\":"
        Self.appendString(event.message.description, to: &line)
        if !merged.isEmpty {
            line += ",\"metadata\":"
            Self.appendObject(merged, to: &line)
        }
        line += "}\n"
        sink(line)
    }

    // MARK: - JSON

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T17:50:03.123Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(timestampStyle)
    }

    private static func appendObject(_ metadata: Logger.Metadata, to line: inout String) {
        line += "{"
        for (index, key) in metadata.keys.sorted().enumerated() {
            if index > 0 { line += "," }
            appendString(key, to: &line)
            line += ":"
            appendValue(metadata[key]!, to: &line)
        }
        line += "}"
    }

    private static func appendValue(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let string):
            appendString(string, to: &line)
        case .stringConvertible(let convertible):
            appendString(convertible.description, to: &line)
        case .dictionary(let dictionary):
            appendObject(dictionary, to: &line)
        case .array(let array):
            line += "["
            for (index, element) in array.enumerated() {
                if index > 0 { line += "," }
                appendValue(element, to: &line)
            }
            line += "]"
        }
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control
    /// characters escaped, so a line never breaks.
    static func appendString(_ string: String, to line: inout String) {
        line += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case let c where c.value < 0x20 || c.value == 0x2028 || c.value == 0x2029:
                let hex = String(c.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
