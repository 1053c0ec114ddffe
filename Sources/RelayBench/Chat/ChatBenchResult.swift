import Foundation

/// What a chat scenario prints: one JSON object, or a table for people.
protocol ChatBenchResult: Encodable {
    /// A header line and rows.
    func table() -> String
    /// True when the run should exit 1 (loss, refusals, timeouts).
    var failed: Bool { get }
}

extension ChatBenchResult {
    /// One JSON object, keys sorted, on one line.
    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Latency percentiles of a `LatencyHistogram` of nanoseconds, in microseconds.
public struct LatencySummary: Sendable, Codable, Hashable {
    public var count: UInt64
    public var mean: Double
    public var p50: Double
    public var p99: Double
    public var p999: Double
    public var max: Double

    /// The summary of `histogram`; zeros when it is empty.
    public init(_ histogram: LatencyHistogram) {
        func micros(_ ns: UInt64) -> Double { Double(ns) / 1000 }
        count = histogram.count
        mean = histogram.mean / 1000
        p50 = micros(histogram.value(atPercentile: 50))
        p99 = micros(histogram.value(atPercentile: 99))
        p999 = micros(histogram.value(atPercentile: 99.9))
        max = micros(histogram.max)
    }
}

/// A right-aligned text table: a header row, then rows, columns two spaces apart.
public enum TextTable {
    /// The table's lines joined by newlines; short rows are padded with empty cells.
    public static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows.map { $0 + Array(repeating: "", count: Swift.max(0, header.count - $0.count)) }
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            zip(row, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `value` with `decimals` digits after the point.
    public static func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
