import Foundation

/// Repeated drills (`relayctl drill failover --repeat N`): one row per run
/// and the figures over all of them.
package struct DrillSummary: Sendable, Codable, Hashable {
    /// One run, in brief.
    struct Row: Sendable, Codable, Hashable {
        var run: Int
        var rtoMs: Double?
        var detectionMs: Double?
        var rpoMessages: Int
        var lostAcknowledged: Int
        var duplicates: Int
        var outOfOrder: Int
        var acked: Int
        var delivered: Int
    }

    /// Minimum, median and maximum of some milliseconds (nil when none).
    struct Spread: Sendable, Codable, Hashable {
        var min: Double
        var median: Double
        var max: Double

        /// The spread of `values`, or nil when there are none.
        init?(_ values: [Double]) {
            let sorted = values.sorted()
            guard let first = sorted.first, let last = sorted.last else { return nil }
            let middle = sorted.count / 2
            self.min = first
            self.max = last
            self.median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
    }

    var kind: String
    var automatic: Bool
    var region: String
    var mode: String
    var runs: [Row]
    /// RTO over the runs that had one.
    var rtoMs: Spread?
    /// Runs without any RTO (no message of the region's devices arrived after the kill).
    var runsWithoutRTO: Int
    var detectionMs: Spread?
    var lostAcknowledged: Int
    var rpoMessages: Int
    var duplicates: Int
    var outOfOrder: Int
    /// Acknowledged media uploads lost over the runs (nil when media is off).
    var mediaLost: Int?

    /// The summary of `reports`, in the order they ran.
    package init(_ reports: [DrillReport]) {
        kind = reports.first?.kind ?? "failover"
        automatic = reports.first?.automatic ?? false
        region = reports.first?.region ?? ""
        mode = reports.first?.mode ?? ""
        runs = reports.enumerated().map { i, r in
            Row(run: i + 1, rtoMs: r.rtoMs, detectionMs: r.detectionMs, rpoMessages: r.rpoMessages,
                lostAcknowledged: r.lostAcknowledged, duplicates: r.duplicates, outOfOrder: r.outOfOrder,
                acked: r.acked, delivered: r.delivered)
        }
        rtoMs = Spread(reports.compactMap(\.rtoMs))
        runsWithoutRTO = reports.filter { $0.rtoMs == nil }.count
        detectionMs = Spread(reports.compactMap(\.detectionMs))
        lostAcknowledged = reports.map(\.lostAcknowledged).reduce(0, +)
        rpoMessages = reports.map(\.rpoMessages).reduce(0, +)
        duplicates = reports.map(\.duplicates).reduce(0, +)
        outOfOrder = reports.map(\.outOfOrder).reduce(0, +)
        let media = reports.compactMap(\.mediaLost)
        mediaLost = media.isEmpty ? nil : media.reduce(0, +)
    }

    /// One line of JSON, keys sorted.
    package var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// A table for people: a row per run, then the totals.
    package var text: String {
        func ms(_ value: Double?) -> String { value.map { String(format: "%.0f", $0) } ?? "-" }
        func spread(_ s: Spread?) -> String { s.map { "\(ms($0.min)) / \(ms($0.median)) / \(ms($0.max)) ms" } ?? "none" }
        var lines = ["\(runs.count) \(automatic ? "automatic " : "")\(kind) drills of \(region) (mirror \(mode))",
                     "run  RTO ms  detected ms  RPO  lost acked  duplicates  out of order  acked  delivered"]
        for row in runs {
            let cells = [String(row.run), ms(row.rtoMs), ms(row.detectionMs), String(row.rpoMessages), String(row.lostAcknowledged),
                         String(row.duplicates), String(row.outOfOrder), String(row.acked), String(row.delivered)]
            let widths = [3, 6, 11, 3, 10, 10, 12, 5, 9]
            lines.append(zip(cells, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: "  "))
        }
        lines.append("RTO min / median / max: \(spread(rtoMs))\(runsWithoutRTO > 0 ? " (\(runsWithoutRTO) runs without one)" : "")")
        if automatic { lines.append("detection min / median / max: \(spread(detectionMs))") }
        lines.append("acknowledged and lost in all: \(lostAcknowledged) (RPO \(rpoMessages)); duplicates \(duplicates); out of order \(outOfOrder)")
        if let mediaLost { lines.append("acknowledged media uploads lost in all: \(mediaLost)") }
        return lines.joined(separator: "\n")
    }
}
