import Foundation

/// A drill's report as one self-contained HTML page (`relayctl drill
/// failover --html FILE`): the figures, the timeline, and inline SVG plots
/// of deliveries per 100 ms per region, replication lag per link and outbox
/// depth per link, with the drill's events marked and the RTO drawn. No
/// script, no network: it opens anywhere. Pure: a report in, text out.
package enum DrillHTML {
    /// Plot geometry, in SVG user units.
    static let width = 900.0
    static let height = 220.0
    static let margin = (left: 56.0, right: 16.0, top: 16.0, bottom: 28.0)
    /// Line colours, one per series in turn.
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// The page for `report`.
    package static func page(_ report: DrillReport) -> String {
        let title = self.title(report)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 960px; }
            \(style)
            </style>
            </head>
            <body>
            \(body(report))</body>
            </html>

            """
    }

    /// The report's heading.
    package static func title(_ report: DrillReport) -> String {
        "\(report.automatic ? "Automatic " : "")\(report.kind) drill of \(report.region)"
    }

    /// The rules the report's elements need (tables, plots, legends), for a page that embeds `body`.
    package static let style = """
        table { border-collapse: collapse; margin: 1em 0; }
        td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
        svg { background: #fafafa; border: 1px solid #ddd; }
        .legend span { margin-right: 1.2em; }
        """

    /// The report without the page around it: heading, figures, plots,
    /// timeline and notes (the operations console shows it inside its own page).
    package static func body(_ report: DrillReport) -> String {
        let title = self.title(report)
        let endMs = max(report.timeline.values.max() ?? 0, 1)
        let series = report.series ?? DrillSeries(deliveries: [], links: [:], endMs: endMs)
        let event = report.kind == "partition" ? "cut" : "kill"
        let startMs = report.timeline[event]
        var body = "<h1>\(escape(title))</h1>\n"
        body += "<p>standby \(escape(report.standby)), mirror \(escape(report.mode)), \(report.devices) devices, "
        body += "\(format(report.rate)) msg/s, \(format(report.durationSeconds)) s</p>\n"
        body += figures(report)

        let delivered = series.deliveredPer100ms.sorted { $0.key < $1.key }.map { region, counts in
            Line(name: region, points: counts.enumerated().map { (Double($0.offset) * DrillSeries.bucketMs, Double($0.element)) })
        }
        var rto: (Double, Double)?
        if let startMs, let ms = report.rtoMs { rto = (startMs, startMs + ms) }
        // The RPO: from the oldest acknowledged send that was lost to the kill (cut).
        var rpo: (from: Double, to: Double, messages: Int)?
        if let startMs, report.rpoMessages > 0, report.rpoMs > 0 { rpo = (startMs - report.rpoMs, startMs, report.rpoMessages) }
        body += plot(id: "delivered", title: "Messages delivered per 100 ms, by the receiving device's region",
                     unit: "msgs", lines: delivered, endMs: endMs, timeline: report.timeline, span: rto, rpo: rpo)
        let links = series.links.sorted { $0.key < $1.key }
        body += plot(id: "lag", title: "Replication lag per link (oldest unacknowledged frame)", unit: "ms",
                     lines: links.map { Line(name: $0.key, points: $0.value.map { ($0.atMs, $0.lagMs) }) },
                     endMs: endMs, timeline: report.timeline, span: nil)
        body += plot(id: "outbox", title: "Outbox depth per link", unit: "frames",
                     lines: links.map { Line(name: $0.key, points: $0.value.map { ($0.atMs, $0.outboxFrames) }) },
                     endMs: endMs, timeline: report.timeline, span: nil)
        body += timelineTable(report.timeline)
        if !report.notes.isEmpty {
            body += "<h2>Notes</h2>\n<ul>\n" + report.notes.map { "<li>\(escape($0))</li>\n" }.joined() + "</ul>\n"
        }
        return body
    }

    struct Line {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    private static func figures(_ report: DrillReport) -> String {
        var rows: [(String, String)] = []
        if report.automatic {
            rows.append(("detected after", report.detectionMs.map { "\(format($0)) ms" } ?? "not detected"))
        }
        rows += [
            ("RTO", report.rtoMs.map { "\(format($0)) ms" } ?? "none"),
            ("RPO", "\(report.rpoMessages) messages, \(format(report.rpoMs)) ms"),
            ("acknowledged, never delivered", "\(report.lostAcknowledged)"),
            ("duplicates", "\(report.duplicates)"),
            ("out of order", "\(report.outOfOrder)"),
            ("sent / acked / delivered", "\(report.sent) / \(report.acked) / \(report.delivered)"),
        ]
        return "<table id=\"figures\">\n" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>\n" }.joined() + "</table>\n"
    }

    private static func timelineTable(_ timeline: [String: Double]) -> String {
        let rows = timeline.sorted { $0.value < $1.value }.map { "<tr><td>\(format($0.value)) ms</td><td>\(escape($0.key))</td></tr>\n" }
        return "<h2>Timeline</h2>\n<table id=\"timeline\">\n" + rows.joined() + "</table>\n"
    }

    /// One SVG plot: a polyline per line, the timeline's events as dashed
    /// verticals, `span` (the RTO) shaded red, `rpo` (the acknowledged sends
    /// lost before the kill) shaded orange.
    static func plot(id: String, title: String, unit: String, lines: [Line], endMs: Double,
                     timeline: [String: Double], span: (Double, Double)?,
                     rpo: (from: Double, to: Double, messages: Int)? = nil) -> String {
        let (left, right, top, bottom) = margin
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maxY = max(lines.flatMap { $0.points.map(\.y) }.max() ?? 0, 1)
        func x(_ ms: Double) -> Double { left + min(max(ms, 0), endMs) / endMs * plotWidth }
        func y(_ value: Double) -> Double { top + plotHeight - value / maxY * plotHeight }
        var svg = "<h2>\(escape(title))</h2>\n"
        svg += "<svg id=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(format(width)) \(format(height))\" width=\"\(format(width))\" height=\"\(format(height))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
        if let (from, to) = span {
            svg += "<rect class=\"rto\" x=\"\(format(x(from)))\" y=\"\(format(top))\" width=\"\(format(max(x(to) - x(from), 1)))\" height=\"\(format(plotHeight))\" fill=\"#ffdddd\"><title>RTO \(format(to - from)) ms</title></rect>\n"
        }
        if let rpo {
            svg += "<rect class=\"rpo\" x=\"\(format(x(rpo.from)))\" y=\"\(format(top))\" width=\"\(format(max(x(rpo.to) - x(rpo.from), 1)))\" height=\"\(format(plotHeight))\" fill=\"#ffd59a\"><title>RPO \(rpo.messages) messages, \(format(rpo.to - rpo.from)) ms</title></rect>\n"
        }
        svg += "<line x1=\"\(format(left))\" y1=\"\(format(top + plotHeight))\" x2=\"\(format(left + plotWidth))\" y2=\"\(format(top + plotHeight))\" stroke=\"#888\"/>\n"
        svg += "<line x1=\"\(format(left))\" y1=\"\(format(top))\" x2=\"\(format(left))\" y2=\"\(format(top + plotHeight))\" stroke=\"#888\"/>\n"
        svg += "<text x=\"4\" y=\"\(format(top + 10))\" font-size=\"11\">\(format(maxY)) \(escape(unit))</text>\n"
        svg += "<text x=\"\(format(left + plotWidth - 60))\" y=\"\(format(height - 8))\" font-size=\"11\">\(format(endMs / 1000)) s</text>\n"
        for (name, ms) in timeline.sorted(by: { $0.value < $1.value }) {
            svg += "<line class=\"marker\" x1=\"\(format(x(ms)))\" y1=\"\(format(top))\" x2=\"\(format(x(ms)))\" y2=\"\(format(top + plotHeight))\" stroke=\"#999\" stroke-dasharray=\"3,3\"><title>\(escape(name)) (\(format(ms)) ms)</title></line>\n"
        }
        for (i, line) in lines.enumerated() where !line.points.isEmpty {
            let colour = palette[i % palette.count]
            let points = line.points.map { "\(format(x($0.x))),\(format(y($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" data-name=\"\(escape(line.name))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points)\"><title>\(escape(line.name))</title></polyline>\n"
        }
        svg += "</svg>\n"
        svg += "<p class=\"legend\">" + lines.enumerated().map { i, line in
            "<span style=\"color: \(palette[i % palette.count])\">&#9632; \(escape(line.name))</span>"
        }.joined() + (lines.isEmpty ? "no data" : "") + "</p>\n"
        return svg
    }

    /// `value` with at most one decimal, no trailing ".0".
    package static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 10).rounded() / 10
        guard abs(rounded) < 1e15, rounded == rounded.rounded() else { return String(format: "%.1f", rounded) }
        return String(Int(rounded))
    }

    /// Text safe inside HTML elements and attribute values.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
