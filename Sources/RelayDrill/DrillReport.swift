import Foundation

/// What a drill found, from what its devices received. Times in ms; the
/// event times are since the drill started.
package struct DrillReport: Sendable, Codable, Hashable {
    /// `failover` or `partition`.
    package var kind: String
    /// No failover or failback command: the deployment acted by itself.
    package var automatic: Bool
    /// With `automatic`: from the kill (cut) until the standby served the region.
    package var detectionMs: Double?
    package var region: String
    package var standby: String
    /// The drilled region's mirror mode, from its settings file.
    package var mode: String
    package var devices: Int
    /// Sends per second, over all devices.
    package var rate: Double
    /// Seconds of traffic after the kill (or the cut).
    package var durationSeconds: Double

    /// From the kill (cut) to the arrival of the first message that one of the
    /// region's devices composed after it; nil when none arrived.
    package var rtoMs: Double?
    /// Acknowledged (PUBACK 0x00) before the kill and never delivered.
    package var rpoMessages: Int
    /// Kill time minus the acknowledgement time of the oldest such send (0 when none).
    package var rpoMs: Double
    /// Sends acknowledged before the kill.
    package var ackedBeforeKill: Int
    /// Acknowledged sends never delivered, whenever acknowledged.
    package var lostAcknowledged: Int
    /// Deliveries of a client message id a device had already received.
    package var duplicates: Int
    /// Deliveries whose (epoch, seq) is not above the previous one of the same device and conversation.
    package var outOfOrder: Int
    /// Largest replication lag seen on the live regions' /metrics.
    package var maxReplicationLagMs: Double
    /// The region whose outbox showed that lag.
    package var maxReplicationLagRegion: String?
    /// Largest replication outbox seen, frames.
    package var maxOutboxFrames: Double
    /// /metrics scrapes that answered.
    package var lagSamples: Int

    /// Sends composed.
    package var sent: Int
    /// Sends published at least once.
    package var published: Int
    /// Sends acknowledged with 0x00.
    package var acked: Int
    /// Sends delivered to their recipient at least once.
    package var delivered: Int
    /// Deliveries received in all (duplicates included).
    package var deliveries: Int
    /// Sends never acknowledged by the end.
    package var unacknowledged: Int
    /// Sends refused at least once (PUBACK ≥ 0x80) and resent.
    package var refusals: Int

    /// Media (nil when the region has media off): uploads acknowledged (last PATCH answered).
    package var mediaUploaded: Int?
    /// Acknowledged uploads that could not be downloaded byte-exact (at the
    /// standby during the failover, or at the region after the failback).
    package var mediaLost: Int?
    /// Of those acknowledged before the kill, missing or different at the standby while it served the region.
    package var mediaLostDuringFailover: Int?
    /// Of all acknowledged (those uploaded at the standby included), missing or different at the region after it came back.
    package var mediaLostAfterFailback: Int?

    /// When things happened, ms since the drill started.
    package var timeline: [String: Double]
    /// Things the drill noticed that bear on the figures.
    package var notes: [String]
    /// Deliveries, lag and outbox depth over time, for the plots.
    package var series: DrillSeries?

    /// One line of JSON, keys sorted.
    package var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// A table for people.
    package var text: String {
        func ms(_ value: Double) -> String { String(format: "%.0f ms", value) }
        let event = kind == "partition" ? "cut" : "kill"
        var rows: [(String, String)] = []
        if automatic {
            rows.append(("detected", detectionMs.map { ms($0) + "  (\(event) -> \(standby) serves \(region), no operator)" } ?? "not detected"))
        }
        rows += [
            ("RTO", rtoMs.map { ms($0) + "  (\(event) -> first message composed after it by a \(region) device delivered)" } ?? "none: no message of \(region)'s devices composed after the \(event) arrived"),
            ("RPO", "\(rpoMessages) messages, \(ms(rpoMs))  (of \(ackedBeforeKill) acknowledged before the \(event))"),
            ("acknowledged, never delivered", "\(lostAcknowledged)"),
            ("duplicates delivered", "\(duplicates)"),
            ("out of order", "\(outOfOrder)"),
            ("replication lag (max)", "\(ms(maxReplicationLagMs))\(maxReplicationLagRegion.map { " (\($0)'s outbox)" } ?? ""), \(Int(maxOutboxFrames)) frames  (\(lagSamples) samples)"),
            ("sent / published / acked", "\(sent) / \(published) / \(acked)  (\(refusals) refused at least once and resent, \(unacknowledged) never acked)"),
            ("delivered", "\(delivered) messages in \(deliveries) deliveries"),
        ]
        if let mediaUploaded, let mediaLost {
            let during = mediaLostDuringFailover.map { "\($0) at \(standby) during the failover" } ?? "not checked at \(standby)"
            let after = mediaLostAfterFailback.map { "\($0) at \(region) afterwards" } ?? "not checked at \(region)"
            rows.append(("media lost", "\(mediaLost) of \(mediaUploaded) acknowledged uploads  (\(during); \(after))"))
        }
        rows += timeline.sorted { $0.value < $1.value }.map { ("  t+ " + $0.key, ms($0.value)) }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = ["\(automatic ? "automatic " : "")\(kind) drill of \(region) (standby \(standby), mirror \(mode)): \(devices) devices, \(rate) msg/s, \(durationSeconds) s"]
        lines += rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }
}
