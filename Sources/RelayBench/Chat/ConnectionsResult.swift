/// The outcome of one `relay-bench connections` run.
struct ConnectionsResult: ChatBenchResult, Sendable, Codable {
    var scenario = "connections"
    var label: String?
    var runID: String
    var host: String
    var port: Int
    var protocolVersion: String
    var sessions: Int
    var concurrency: Int
    var threads: Int
    /// First connect → last SUBACK (TCP, token check, registration, subscription).
    var connectSeconds: Double
    var connectsPerSecond: Double
    /// Resident memory (VmRSS) of the relay and of Redis before connecting
    /// and once every session is idle, in bytes; nil without their pids.
    var relayRSSBefore: Int?
    var relayRSSAfter: Int?
    var relayBytesPerSession: Double?
    var redisRSSBefore: Int?
    var redisRSSAfter: Int?
    var redisBytesPerSession: Double?

    var failed: Bool { false }

    func table() -> String {
        let f = TextTable.format
        func mib(_ bytes: Int?) -> String { bytes.map { f(Double($0) / 1_048_576, 1) } ?? "-" }
        let header = "relay-bench connections\(label.map { " [\($0)]" } ?? "") \(host):\(port) MQTT \(protocolVersion) run \(runID)"
            + " concurrency=\(concurrency) threads=\(threads)"
        let table = TextTable.render(
            ["sessions", "connect_s", "connects/s", "relay_rss_mib", "relay_bytes/session", "redis_rss_mib", "redis_bytes/session"],
            [["\(sessions)", f(connectSeconds, 2), f(connectsPerSecond, 0),
              "\(mib(relayRSSBefore))→\(mib(relayRSSAfter))", relayBytesPerSession.map { f($0, 0) } ?? "-",
              "\(mib(redisRSSBefore))→\(mib(redisRSSAfter))", redisBytesPerSession.map { f($0, 0) } ?? "-"]]
        )
        return header + "\n" + table
    }
}
