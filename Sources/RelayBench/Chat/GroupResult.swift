/// The outcome of one `relay-bench group` run.
struct GroupResult: ChatBenchResult, Sendable, Codable {
    var scenario = "group"
    var label: String?
    var runID: String
    var host: String
    var port: Int
    var protocolVersion: String
    /// Members including the sender; every one online.
    var members: Int
    var messages: Int
    var payloadBytes: Int
    var threads: Int
    /// Per message: the sender's PUBLISH → the last member reading it.
    var allDeliveredMicros: LatencySummary
    /// Per member and message: the sender's PUBLISH → that member reading it.
    var memberDeliveryMicros: LatencySummary
    /// The sender's PUBLISH → its PUBACK.
    var ackMicros: LatencySummary
    /// Deliveries of another conversation or seq than the one being timed.
    var unexpected: Int
    /// The load generator's CPU over the measured messages (it reads and
    /// acknowledges every member's delivery, so it shares the work).
    var clientCPUSeconds: Double

    var failed: Bool { unexpected > 0 }

    func table() -> String {
        let f = TextTable.format
        let header = "relay-bench group\(label.map { " [\($0)]" } ?? "") \(host):\(port) MQTT \(protocolVersion) run \(runID)"
            + " members=\(members) payload=\(payloadBytes) threads=\(threads) client_cpu_s=\(f(clientCPUSeconds, 2))"
        let table = TextTable.render(
            ["messages", "all_p50_us", "all_p99_us", "all_max_us", "member_p50_us", "member_p99_us", "ack_p50_us", "unexpected"],
            [["\(messages)", f(allDeliveredMicros.p50, 0), f(allDeliveredMicros.p99, 0), f(allDeliveredMicros.max, 0),
              f(memberDeliveryMicros.p50, 0), f(memberDeliveryMicros.p99, 0), f(ackMicros.p50, 0), "\(unexpected)"]]
        )
        return header + "\n" + table
    }
}
