/// One sample line of a Prometheus text exposition (format 0.0.4):
/// `name{label="value",...} value`.
public struct PrometheusSample: Sendable, Hashable {
    /// The metric name.
    public var name: String
    /// The labels, unescaped.
    public var labels: [String: String]
    /// The sample's value.
    public var value: Double

    /// A sample.
    public init(name: String, labels: [String: String], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// Reads the samples of one metric from a Prometheus text exposition, as a
/// relay's `/metrics` serves it.
public enum PrometheusText {
    /// Every sample of `metric` (exactly that name, any labels) with a
    /// finite value, in the order of the text; comments and other metrics
    /// (`metric_total` is another one) are skipped, as are lines that do
    /// not parse.
    public static func samples(of metric: String, in text: String) -> [PrometheusSample] {
        var found: [PrometheusSample] = []
        for line in text.split(separator: "\n") where line.hasPrefix(metric) {
            var rest = line.dropFirst(metric.count)
            var labels: [String: String] = [:]
            if rest.first == "{" {
                guard let parsed = parseLabels(&rest) else { continue }
                labels = parsed
            }
            guard rest.first == " " else { continue }
            // The value, then an optional timestamp.
            guard let field = rest.split(separator: " ").first, let value = Double(field), value.isFinite else { continue }
            found.append(PrometheusSample(name: metric, labels: labels, value: value))
        }
        return found
    }

    /// The largest value of `metric` over all its labels; nil when it has no sample.
    public static func maximum(of metric: String, in text: String) -> Double? {
        samples(of: metric, in: text).map(\.value).max()
    }

    /// Parses `{a="x",b="y"}` from the start of `text` and drops it; nil
    /// when it is malformed.
    private static func parseLabels(_ text: inout Substring) -> [String: String]? {
        var labels: [String: String] = [:]
        var rest = text.dropFirst()  // "{"
        while true {
            rest = rest.drop(while: { $0 == " " || $0 == "," })
            if rest.first == "}" {
                text = rest.dropFirst()
                return labels
            }
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let name = String(rest[..<equals].filter { $0 != " " })
            rest = rest[rest.index(after: equals)...]
            guard rest.first == "\"" else { return nil }
            rest = rest.dropFirst()
            var value = ""
            var escaped = false
            var closed = false
            while !closed, let c = rest.first {
                rest = rest.dropFirst()
                if escaped {
                    value.append(c == "n" ? "\n" : c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    closed = true
                } else {
                    value.append(c)
                }
            }
            guard closed, !name.isEmpty else { return nil }
            labels[name] = value
        }
    }
}
