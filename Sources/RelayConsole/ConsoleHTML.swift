import Foundation
import RelayDrill

/// The console's page and the two fragments that server-sent events replace
/// in it (`#deployment`, `#drills`). Plain HTML, CSS and inline SVG with a
/// little JavaScript (an `EventSource` and the drill form's `fetch`); no
/// network access beyond the console itself. Pure: views in, text out.
package enum ConsoleHTML {
    private static func e(_ text: String) -> String { DrillHTML.escape(text) }
    private static func f(_ value: Double) -> String { DrillHTML.format(value) }

    /// The whole page, with the current state in it (it reads without JavaScript).
    package static func page(deployment: DeploymentView?, drills: [DrillDesk.Record], regions: [String]) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>relay operations console</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; max-width: 1000px; }
        header { display: flex; align-items: baseline; gap: 1em; }
        header h1 { margin: 0; font-size: 1.5em; }
        #live { font-size: 0.85em; color: #2a7a2a; }
        #live.down { color: #b00; }
        h2 { font-size: 1.15em; margin-top: 1.5em; }
        .up { color: #2a7a2a; } .down { color: #b00; } .fenced { color: #b36b00; }
        tr[data-state="cut"] td.state { color: #b00; font-weight: bold; }
        form label { margin-right: 1em; white-space: nowrap; }
        form input[type=number] { width: 5em; }
        pre.progress { background: #f4f4f4; padding: 0.5em; max-height: 14em; overflow: auto; font-size: 0.85em; }
        .error { color: #b00; }
        #drill-latest { border-top: 1px solid #ddd; margin-top: 1em; }
        #drill-latest h1 { font-size: 1.25em; }
        #drill-latest h2 { font-size: 1em; }
        #map { background: #fafafa; border: 1px solid #ddd; }
        \(DrillHTML.style)
        </style>
        </head>
        <body>
        <header><h1>relay operations console</h1><span id="live">live</span><span id="updated"></span></header>
        <section id="deployment">
        \(deployment.map(deploymentFragment) ?? "<p>reading the regions&hellip;</p>")
        </section>
        <section id="drill-start">
        <h2>Start a drill</h2>
        \(form(regions: regions))
        <p id="drill-error" class="error"></p>
        </section>
        <section id="drills">
        \(drillsFragment(drills))
        </section>
        <script>
        \(script)
        </script>
        </body>
        </html>

        """
    }

    /// The drill form; the script posts it as JSON to `/api/drills`.
    static func form(regions: [String]) -> String {
        let options = regions.map { "<option value=\"\(e($0))\">\(e($0))</option>" }.joined()
        return """
            <form id="drill-form">
            <label>kind <select name="kind"><option value="failover">failover (kill)</option><option value="partition">partition (cut)</option></select></label>
            <label>region <select name="region">\(options)</select></label>
            <label>mirror <select name="mode"><option value="">as set</option><option value="async">async</option><option value="sync">sync</option></select></label>
            <label><input type="checkbox" name="automatic"> automatic</label>
            <label>devices <input type="number" name="devices" value="6" min="2" max="200"></label>
            <label>rate <input type="number" name="rate" value="20" min="0.1" max="1000" step="any"> msg/s</label>
            <label>duration <input type="number" name="duration" value="10" min="1" max="600" step="any"> s</label>
            <button type="submit" id="drill-submit">Start drill</button>
            </form>
            """
    }

    /// The deployment: a map, the regions and the links.
    package static func deploymentFragment(_ view: DeploymentView) -> String {
        var html = "<h2>Deployment</h2>\n" + map(view)
        html += "<table id=\"regions\">\n<tr><th>region</th><th>state</th><th>served by</th><th>term</th><th>fenced</th><th>sessions</th><th>msg/s</th><th>standby</th><th>devices at</th></tr>\n"
        for region in view.regions {
            let state = region.up ? (region.ready == false ? "up, not ready" : "up") : "down"
            let servedBy = region.servedBy == region.name ? "itself" : region.servedBy
            html += "<tr class=\"region\" data-region=\"\(e(region.name))\" data-up=\"\(region.up)\" data-served-by=\"\(e(region.servedBy))\" data-fenced=\"\(region.fenced)\">"
            html += "<td>\(e(region.name))</td><td class=\"\(region.up ? "up" : "down")\">\(e(state))</td>"
            html += "<td>\(e(servedBy))</td><td>\(region.term == 0 ? "?" : String(region.term))</td>"
            html += "<td class=\"\(region.fenced ? "fenced" : "")\">\(region.fenced ? "fenced" : "no")</td>"
            html += "<td>\(region.sessions.map(String.init) ?? "&ndash;")</td><td>\(region.sendsPerSecond.map(f) ?? "&ndash;")</td>"
            html += "<td>\(e(region.standby ?? "none"))</td><td>\(e(region.devices))</td></tr>\n"
        }
        html += "</table>\n"
        html += "<table id=\"links\">\n<tr><th>link</th><th>RTT set</th><th>RTT now</th><th>state</th><th>direction</th><th>lag</th><th>outbox</th></tr>\n"
        for link in view.links {
            let name = link.between.joined(separator: " \u{2194} ")
            let rows = max(link.directions.count, 1)
            html += "<tr class=\"link\" data-link=\"\(e(link.between.joined(separator: "|")))\" data-state=\"\(link.state.rawValue)\">"
            html += "<td rowspan=\"\(rows)\">\(e(name))</td><td rowspan=\"\(rows)\">\(f(link.rttMs)) ms</td>"
            html += "<td rowspan=\"\(rows)\">\(link.currentRttMs.map { f($0) + " ms" } ?? "&ndash;")</td>"
            html += "<td rowspan=\"\(rows)\" class=\"state\">\(link.state.rawValue)</td>"
            html += link.directions.enumerated().map { index, direction in
                (index == 0 ? "" : "<tr class=\"direction\">") + directionCells(direction) + "</tr>\n"
            }.joined()
            if link.directions.isEmpty { html += "<td></td><td></td><td></td></tr>\n" }
        }
        html += "</table>\n"
        return html
    }

    private static func directionCells(_ direction: DeploymentView.Direction) -> String {
        "<td>\(e(direction.from)) \u{2192} \(e(direction.to))</td>"
            + "<td class=\"lag\" data-from=\"\(e(direction.from))\" data-to=\"\(e(direction.to))\">\(direction.lagMs.map { f($0) + " ms" } ?? "&ndash;")</td>"
            + "<td class=\"outbox\">\(direction.outboxFrames.map { f($0) + " frames" } ?? "&ndash;")</td>"
    }

    /// The regions on a circle, the links between them (red and dashed when
    /// cut), and an arrow from a standby to each region it serves.
    static func map(_ view: DeploymentView) -> String {
        let width = 600.0, height = 290.0, radius = 92.0
        let center = (x: width / 2, y: height / 2 + 8)
        var position: [String: (x: Double, y: Double)] = [:]
        for (index, region) in view.regions.enumerated() {
            let angle = -Double.pi / 2 + Double(index) * 2 * Double.pi / Double(max(view.regions.count, 1))
            position[region.name] = (center.x + radius * 2 * cos(angle), center.y + radius * sin(angle))
        }
        var svg = "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"regions and links\">\n"
        svg += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#7b3fa0\"/></marker></defs>\n"
        for link in view.links where link.between.count == 2 {
            guard let a = position[link.between[0]], let b = position[link.between[1]] else { continue }
            let cut = link.state == .cut
            svg += "<line class=\"map-link\" data-link=\"\(e(link.between.joined(separator: "|")))\" data-state=\"\(link.state.rawValue)\" x1=\"\(f(a.x))\" y1=\"\(f(a.y))\" x2=\"\(f(b.x))\" y2=\"\(f(b.y))\" stroke=\"\(cut ? "#d62728" : "#888")\" stroke-width=\"\(cut ? 3 : 2)\"\(cut ? " stroke-dasharray=\"8,6\"" : "")/>\n"
            let label = "\(f(link.rttMs)) ms" + (cut ? " CUT" : "")
            svg += "<text x=\"\(f((a.x + b.x) / 2))\" y=\"\(f((a.y + b.y) / 2 - 6))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(cut ? "#d62728" : "#555")\" stroke=\"#fafafa\" stroke-width=\"4\" paint-order=\"stroke\">\(e(label))</text>\n"
        }
        for region in view.regions where region.servedBy != region.name {
            guard let from = position[region.servedBy], let to = position[region.name] else { continue }
            // Stop short of the circles.
            let dx = to.x - from.x, dy = to.y - from.y, length = max((dx * dx + dy * dy).squareRoot(), 1)
            let (ux, uy) = (dx / length, dy / length)
            svg += "<line class=\"serves\" x1=\"\(f(from.x + ux * 40))\" y1=\"\(f(from.y + uy * 40 + 10))\" x2=\"\(f(to.x - ux * 40))\" y2=\"\(f(to.y - uy * 40 + 10))\" stroke=\"#7b3fa0\" stroke-width=\"2\" marker-end=\"url(#arrow)\"><title>\(e(region.servedBy)) serves \(e(region.name))</title></line>\n"
        }
        for region in view.regions {
            guard let p = position[region.name] else { continue }
            let fill = !region.up ? "#bbbbbb" : region.fenced ? "#f5b041" : region.servedBy != region.name ? "#d7bde2" : "#7dcea0"
            svg += "<g class=\"map-region\" data-region=\"\(e(region.name))\">"
            svg += "<circle cx=\"\(f(p.x))\" cy=\"\(f(p.y))\" r=\"34\" fill=\"\(fill)\" stroke=\"#333\"/>"
            svg += "<text x=\"\(f(p.x))\" y=\"\(f(p.y - 3))\" font-size=\"12\" text-anchor=\"middle\" font-weight=\"bold\">\(e(region.name))</text>"
            let state = !region.up ? "down" : region.fenced ? "fenced" : region.servedBy != region.name ? "by \(region.servedBy)" : "serving"
            svg += "<text x=\"\(f(p.x))\" y=\"\(f(p.y + 12))\" font-size=\"10\" text-anchor=\"middle\">\(e(state))</text>"
            var detail = region.term == 0 ? "term ?" : "term \(region.term)"
            if let sessions = region.sessions { detail += " \u{b7} \(sessions) session\(sessions == 1 ? "" : "s")" }
            if let rate = region.sendsPerSecond { detail += " \u{b7} \(f(rate)) msg/s" }
            // Above the circles of the upper half, below the others: clear of the links.
            let detailY = p.y < center.y ? p.y - 42 : p.y + 50
            svg += "<text x=\"\(f(p.x))\" y=\"\(f(detailY))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">\(e(detail))</text></g>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// The running drill with its progress, the latest finished drill's
    /// report with its plots, and every drill kept.
    package static func drillsFragment(_ records: [DrillDesk.Record]) -> String {
        var html = "<h2>Drills</h2>\n"
        if let running = records.last(where: { $0.state == .running }) {
            html += "<div id=\"drill-running\" data-drill=\"\(e(running.id))\"><p>running: \(e(running.request.summary))</p>\n"
            html += "<pre class=\"progress\">\(e(running.progress.joined(separator: "\n")))</pre></div>\n"
        }
        if let latest = records.last(where: { $0.state != .running }) {
            html += "<article id=\"drill-latest\" data-drill=\"\(e(latest.id))\" data-state=\"\(latest.state.rawValue)\">\n"
            if let report = latest.report {
                html += DrillHTML.body(report)
            } else {
                html += "<p class=\"error\">\(e(latest.request.summary)) could not run: \(e(latest.error ?? "unknown error"))</p>\n"
            }
            html += "</article>\n"
        }
        html += "<h2>Past drills</h2>\n"
        let finished = records.filter { $0.state != .running }
        guard !finished.isEmpty else { return html + "<p id=\"past-drills\">none yet</p>\n" }
        html += "<table id=\"past-drills\">\n<tr><th>started (UTC)</th><th>drill</th><th>outcome</th><th>RTO</th><th>RPO</th><th>lost</th><th>report</th></tr>\n"
        for record in finished.reversed() {
            let report = record.report
            html += "<tr class=\"drill\" data-drill=\"\(e(record.id))\" data-state=\"\(record.state.rawValue)\">"
            html += "<td>\(e(timestamp(record.startedAtMs)))</td><td>\(e(record.request.summary))</td>"
            html += "<td>\(record.state == .done ? "done" : "failed: " + e(record.error ?? ""))</td>"
            html += "<td>\(report.map { $0.rtoMs.map { f($0) + " ms" } ?? "none" } ?? "&ndash;")</td>"
            html += "<td>\(report.map { "\($0.rpoMessages) msgs, \(f($0.rpoMs)) ms" } ?? "&ndash;")</td>"
            html += "<td>\(report.map { String($0.lostAcknowledged) } ?? "&ndash;")</td>"
            html += "<td>" + (report == nil ? "" : "<a href=\"/drills/\(e(record.id))\">page</a> ") + "<a href=\"/api/drills/\(e(record.id))\">json</a></td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// `2026-12-07 12:34:56` for ms since 1970.
    static func timestamp(_ ms: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: ms / 1000))
    }

    /// Live updates and the drill form.
    static let script = """
        (function () {
          var live = document.getElementById('live');
          var updated = document.getElementById('updated');
          var events = new EventSource('/events');
          events.addEventListener('deployment', function (event) {
            document.getElementById('deployment').innerHTML = event.data;
            updated.textContent = 'updated ' + new Date().toLocaleTimeString();
          });
          events.addEventListener('drills', function (event) {
            document.getElementById('drills').innerHTML = event.data;
          });
          events.onopen = function () { live.textContent = 'live'; live.className = ''; };
          events.onerror = function () { live.textContent = 'reconnecting'; live.className = 'down'; };
          var form = document.getElementById('drill-form');
          var error = document.getElementById('drill-error');
          form.addEventListener('submit', function (event) {
            event.preventDefault();
            var data = new FormData(form);
            var body = {
              kind: data.get('kind'), region: data.get('region'), mode: data.get('mode'),
              automatic: data.get('automatic') === 'on',
              devices: Number(data.get('devices')), rate: Number(data.get('rate')), duration: Number(data.get('duration'))
            };
            error.textContent = '';
            fetch('/api/drills', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
              .then(function (response) {
                if (!response.ok) { return response.text().then(function (text) { error.textContent = text; }); }
              })
              .catch(function (failure) { error.textContent = String(failure); });
          });
        })();
        """
}
