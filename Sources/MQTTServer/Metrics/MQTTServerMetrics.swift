import CoreMetrics
import MQTT

/// The engine's metrics, created once per server from the process's
/// `MetricsSystem` (no-ops when it was not bootstrapped) and shared by its
/// connections, so a packet costs a few atomic adds and no lookups.
///
/// Names follow Prometheus conventions: `relay_sessions{protocol}`,
/// `relay_packets_{received,sent}_total`, `relay_bytes_{received,sent}_total`
/// (MQTT bytes: fixed header and body, without TLS or WebSocket framing).
struct MQTTServerMetrics: Sendable {
    let sessions31: Meter
    let sessions311: Meter
    let sessions5: Meter
    let packetsIn: Counter
    let packetsOut: Counter
    let bytesIn: Counter
    let bytesOut: Counter

    init() {
        sessions31 = Meter(label: "relay_sessions", dimensions: [("protocol", "3.1")])
        sessions311 = Meter(label: "relay_sessions", dimensions: [("protocol", "3.1.1")])
        sessions5 = Meter(label: "relay_sessions", dimensions: [("protocol", "5.0")])
        packetsIn = Counter(label: "relay_packets_received_total")
        packetsOut = Counter(label: "relay_packets_sent_total")
        bytesIn = Counter(label: "relay_bytes_received_total")
        bytesOut = Counter(label: "relay_bytes_sent_total")
    }

    /// The connected-sessions gauge of `version`.
    func sessions(_ version: ProtocolVersion) -> Meter {
        switch version {
        case .v31: sessions31
        case .v311: sessions311
        case .v5: sessions5
        }
    }

    /// Counts one received packet whose Remaining Length is `remainingLength`.
    func received(remainingLength: Int) {
        packetsIn.increment()
        bytesIn.increment(by: 1 + Self.variableByteIntegerSize(remainingLength) + remainingLength)
    }

    /// Bytes of the Remaining Length field (MQTT 5.0 §1.5.5).
    static func variableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: 1
        case ..<16_384: 2
        case ..<2_097_152: 3
        default: 4
        }
    }
}
