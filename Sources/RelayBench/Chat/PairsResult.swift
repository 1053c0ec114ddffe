/// The outcome of one `relay-bench pairs` run.
struct PairsResult: ChatBenchResult, Sendable, Codable {
    var scenario = "pairs"
    var label: String?
    var runID: String
    var host: String
    var port: Int
    var protocolVersion: String
    var topicAliases: Bool
    var pairs: Int
    /// Messages per second asked for over all pairs; 0 = as fast as the windows allow.
    var targetRate: Double
    var window: Int
    var payloadBytes: Int
    var threads: Int
    var sent: UInt64
    var acknowledged: UInt64
    var refused: UInt64
    var delivered: UInt64
    /// Sent, neither delivered nor refused when the drain ended.
    var lost: UInt64
    var outOfOrder: UInt64
    var duplicates: UInt64
    /// Due at the target rate but held back by full windows.
    var behind: UInt64
    /// First send to the stop of sending.
    var sendSeconds: Double
    /// Sends per second over `sendSeconds`.
    var sentPerSecond: Double
    /// Deliveries per second, first send to last delivery.
    var deliveredPerSecond: Double
    /// send → PUBACK (durably accepted) and send → the recipient reading the `Delivery`.
    var ackMicros: LatencySummary
    var deliveryMicros: LatencySummary
    var clientCPUPercent: Double
    var timedOut: Bool
    /// At a target rate: everything due was sent (within 1 %, and 2 per
    /// pair for the pacing tick) and delivered in time.
    var sustained: Bool

    var failed: Bool { timedOut || lost > 0 || refused > 0 || outOfOrder > 0 }

    init(_ outcomes: [PairOutcome], configuration: PairsConfiguration, runID: String, cpuSeconds: Double) {
        var ack = LatencyHistogram(), delivery = LatencyHistogram()
        var sent: UInt64 = 0, acknowledged: UInt64 = 0, refused: UInt64 = 0, delivered: UInt64 = 0
        var outOfOrder: UInt64 = 0, duplicates: UInt64 = 0, behind: UInt64 = 0
        var start = UInt64.max, stop: UInt64 = 0, last: UInt64 = 0
        var timedOut = false
        for o in outcomes {
            ack.merge(o.ack)
            delivery.merge(o.delivery)
            sent += o.sent
            acknowledged += o.acknowledged
            refused += o.refused
            delivered += o.delivered
            outOfOrder += o.outOfOrder
            duplicates += o.duplicates
            behind += o.behind
            start = min(start, o.startedAt)
            stop = max(stop, o.stoppedAt)
            last = max(last, o.lastDeliveredAt)
            timedOut = timedOut || o.timedOut
        }
        let sendSeconds = stop > start ? Double(stop - start) / 1e9 : 0
        let deliverySeconds = last > start ? Double(last - start) / 1e9 : 0
        self.label = configuration.label
        self.runID = runID
        self.host = configuration.host
        self.port = configuration.port
        self.protocolVersion = configuration.device.version == .v5 ? "5" : "3.1.1"
        self.topicAliases = configuration.device.version == .v5 && configuration.device.topicAliases
        self.pairs = configuration.pairs
        self.targetRate = configuration.rate
        self.window = configuration.window
        self.payloadBytes = configuration.payloadSize
        self.threads = configuration.threads
        self.sent = sent
        self.acknowledged = acknowledged
        self.refused = refused
        self.delivered = delivered
        self.lost = sent > delivered + refused ? sent - delivered - refused : 0
        self.outOfOrder = outOfOrder
        self.duplicates = duplicates
        self.behind = behind
        self.sendSeconds = sendSeconds
        self.sentPerSecond = sendSeconds > 0 ? Double(sent) / sendSeconds : 0
        self.deliveredPerSecond = deliverySeconds > 0 ? Double(delivered) / deliverySeconds : 0
        self.ackMicros = LatencySummary(ack)
        self.deliveryMicros = LatencySummary(delivery)
        self.clientCPUPercent = deliverySeconds > 0 ? cpuSeconds / deliverySeconds * 100 : 0
        self.timedOut = timedOut
        self.sustained = !timedOut && behind <= sent / 100 + 2 * UInt64(configuration.pairs) && lost == 0
    }

    func table() -> String {
        let header = "relay-bench pairs\(label.map { " [\($0)]" } ?? "") \(host):\(port) \(settings)"
        return ([header] + figures()).joined(separator: "\n")
    }

    /// The run's settings after the endpoint: protocol, run id, sizes, client CPU.
    var settings: String {
        "MQTT \(protocolVersion)" + (topicAliases ? " (topic aliases)" : "") + " run \(runID) pairs=\(pairs) window=\(window)"
            + " payload=\(payloadBytes) threads=\(threads) client_cpu=\(TextTable.format(clientCPUPercent, 0))%"
    }

    /// The table of rates, counts and latencies, then a line for each kind of failure.
    func figures() -> [String] {
        let f = TextTable.format
        let table = TextTable.render(
            ["target/s", "sent/s", "delivered/s", "sent", "delivered", "lost", "behind", "sustained",
             "ack_p50_us", "ack_p99_us", "ack_p99.9_us", "ack_max_us",
             "dlv_p50_us", "dlv_p99_us", "dlv_p99.9_us", "dlv_max_us"],
            [[targetRate > 0 ? f(targetRate, 0) : "max", f(sentPerSecond, 0), f(deliveredPerSecond, 0),
              "\(sent)", "\(delivered)", "\(lost)", "\(behind)", targetRate > 0 ? (sustained ? "yes" : "no") : "-",
              f(ackMicros.p50, 0), f(ackMicros.p99, 0), f(ackMicros.p999, 0), f(ackMicros.max, 0),
              f(deliveryMicros.p50, 0), f(deliveryMicros.p99, 0), f(deliveryMicros.p999, 0), f(deliveryMicros.max, 0)]]
        )
        var lines = [table]
        if refused > 0 { lines.append("REFUSED \(refused) sends (rate limits? see the region's sendsPerSecond)") }
        if outOfOrder > 0 || duplicates > 0 { lines.append("out of order \(outOfOrder), duplicates \(duplicates)") }
        if timedOut { lines.append("TIMED OUT before every message was delivered") }
        return lines
    }
}
