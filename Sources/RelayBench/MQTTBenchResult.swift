import Foundation

/// The outcome of one `relay-bench mqtt` run: what the table and the JSON show.
public struct MQTTBenchResult: Sendable, Codable, Hashable {
    /// Latency percentiles in microseconds (end-to-end, publisher write to subscriber read).
    public struct Latency: Sendable, Codable, Hashable {
        public var min: Double
        public var mean: Double
        public var p50: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
    }

    public var scenario = "mqtt"
    public var label: String?
    public var runID: String
    public var host: String
    public var port: Int
    public var protocolVersion: String
    public var pairs: Int
    public var qos: Int
    public var payloadBytes: Int
    /// The window asked for.
    public var inflight: Int
    /// The window used: `inflight` lowered to the server's Receive Maximum.
    public var effectiveInflight: Int
    public var threads: Int
    public var warmupSeconds: Double
    public var sent: UInt64
    public var received: UInt64
    public var lost: UInt64
    public var outOfOrder: UInt64
    /// QoS 1 PUBLISHes never acknowledged.
    public var unacknowledged: UInt64
    /// Deliveries that could not be accounted for: leftovers from the
    /// warm-up, unreadable payloads, PUBACKs for identifiers not in flight.
    public var anomalies: UInt64
    /// From the first PUBLISH written to the last message received.
    public var durationSeconds: Double
    /// Messages received per second over `durationSeconds`.
    public var messagesPerSecond: Double
    public var latencyMicros: Latency
    /// CPU seconds the load generator used during the measured phase, and that
    /// over `durationSeconds` in percent of one core.
    public var clientCPUSeconds: Double
    public var clientCPUPercent: Double
    public var timedOut: Bool

    /// True when the run should exit non-zero: a timeout, or loss at QoS 1.
    public var failed: Bool {
        timedOut || (qos >= 1 && (lost > 0 || unacknowledged > 0))
    }

    /// One JSON object, keys sorted, on one line.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A header line and a one-row table.
    public func table() -> String {
        let columns: [(String, String)] = [
            ("pairs", "\(pairs)"),
            ("qos", "\(qos)"),
            ("payload", "\(payloadBytes)"),
            ("inflight", "\(effectiveInflight)"),
            ("sent", "\(sent)"),
            ("received", "\(received)"),
            ("lost", "\(lost)"),
            ("ooo", "\(outOfOrder)"),
            ("duration_s", Self.format(durationSeconds, 2)),
            ("msgs/s", Self.format(messagesPerSecond, 0)),
            ("p50_us", Self.format(latencyMicros.p50, 1)),
            ("p99_us", Self.format(latencyMicros.p99, 1)),
            ("p99.9_us", Self.format(latencyMicros.p999, 1)),
            ("max_us", Self.format(latencyMicros.max, 1)),
        ]
        let widths = columns.map { max($0.0.count, $0.1.count) }
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ")
        }
        var lines = [
            "relay-bench mqtt\(label.map { " [\($0)]" } ?? "") \(host):\(port) MQTT \(protocolVersion) run \(runID)"
                + " threads=\(threads) warmup=\(Self.format(warmupSeconds, 1))s"
                + " client_cpu=\(Self.format(clientCPUPercent, 0))%",
            row(columns.map(\.0)),
            row(columns.map(\.1)),
        ]
        if unacknowledged > 0 || anomalies > 0 {
            lines.append("unacknowledged=\(unacknowledged) anomalies=\(anomalies)")
        }
        if timedOut { lines.append("TIMED OUT before every message was delivered") }
        if qos >= 1 && lost > 0 { lines.append("LOST \(lost) messages at QoS 1") }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
