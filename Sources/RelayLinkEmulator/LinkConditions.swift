import Foundation
import NIOCore

/// What a delay proxy emulates on each direction of a link.
public struct LinkConditions: Sendable, Equatable, Codable {
    /// Round-trip time in milliseconds; each direction is delayed by half.
    public var rttMs: Double
    /// Throughput of each direction in kbit/s.
    public var bandwidthKbps: Double
    /// Fraction of chunks delayed as if lost and retransmitted, 0 ≤ loss < 1.
    public var loss: Double

    /// Conditions with every field given.
    public init(rttMs: Double, bandwidthKbps: Double, loss: Double) {
        self.rttMs = rttMs
        self.bandwidthKbps = bandwidthKbps
        self.loss = loss
    }

    /// Why these conditions cannot be applied, or `nil` when they can.
    public var problem: String? {
        if !(rttMs >= 0 && rttMs.isFinite) { return "rtt must be 0 or more milliseconds" }
        if !(bandwidthKbps > 0 && bandwidthKbps.isFinite) { return "bandwidth must be more than 0 kbit/s" }
        if !(loss >= 0 && loss < 1) { return "loss must be a fraction from 0 up to (not including) 1" }
        return nil
    }

    /// Bytes per second of one direction.
    var bytesPerSecond: Double { bandwidthKbps * 1000 / 8 }
}

/// The pacing of one direction of a proxied connection: when each chunk read
/// from the source may be written to the destination.
///
/// The model, applied in this order to each chunk:
/// - **Bandwidth**: a token bucket (in its virtual-time form, GCRA) that
///   refills at the link's rate and holds at most ``burstBytes``; a chunk
///   leaves once the bucket has paid for all of its bytes.
/// - **Delay**: it then arrives half the RTT later.
/// - **Loss**: TCP cannot drop bytes, so a "lost" chunk (a random fraction
///   `loss` of chunks) arrives one more RTT later, as when a sender learns of
///   a loss from duplicate ACKs and retransmits. Chunks behind it wait for it
///   (head-of-line blocking, as in TCP): order is always kept.
public struct LinkPacer: Sendable {
    /// The most bytes the bucket lets through at once after an idle period.
    public static let burstBytes = 16 * 1024

    /// Virtual time at which the bucket has paid for everything sent so far.
    private var paidUntil: NIODeadline = .uptimeNanoseconds(0)
    /// When the last chunk was scheduled to arrive; no chunk arrives earlier.
    private var lastArrival: NIODeadline = .uptimeNanoseconds(0)

    /// A pacer with an idle link.
    public init() {}

    /// When a chunk of `bytes` read at `now` is to be written, under `conditions`;
    /// `lost` says whether the chunk is one of those delayed as lost.
    public mutating func arrival(bytes: Int, now: NIODeadline, conditions: LinkConditions, lost: Bool) -> NIODeadline {
        let rate = conditions.bytesPerSecond
        let burst = TimeAmount.nanoseconds(Int64(Double(Self.burstBytes) / rate * 1e9))
        let cost = TimeAmount.nanoseconds(Int64(Double(bytes) / rate * 1e9))
        paidUntil = max(paidUntil, now - burst) + cost
        let leaves = max(now, paidUntil)
        let oneWay = TimeAmount.nanoseconds(Int64(conditions.rttMs * 1e6 / 2))
        var arrives = leaves + oneWay
        if lost { arrives = arrives + TimeAmount.nanoseconds(Int64(conditions.rttMs * 1e6)) }
        arrives = max(arrives, lastArrival)
        lastArrival = arrives
        return arrives
    }
}

/// A command of the proxy's control listener: one line of text.
public enum LinkControlCommand: Sendable, Equatable {
    /// Close existing connections and refuse new ones (a partition).
    case cut
    /// Accept connections again.
    case heal
    /// Change the conditions; fields not given keep their value.
    case set(rttMs: Double?, bandwidthKbps: Double?, loss: Double?)
    /// Report the proxy's state as one line of JSON.
    case status

    /// Parses one line (`cut`, `heal`, `status`, `set rtt=MS bandwidth=KBITS loss=F`),
    /// or throws a message saying what is wrong.
    public static func parse(_ line: String) throws(LinkControlError) -> LinkControlCommand {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        switch words.first {
        case "cut" where words.count == 1: return .cut
        case "heal" where words.count == 1: return .heal
        case "status" where words.count == 1: return .status
        case "set" where words.count > 1:
            var rtt: Double?, bandwidth: Double?, loss: Double?
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2, let value = Double(pair[1]) else {
                    throw LinkControlError("\"\(word)\" is not KEY=NUMBER")
                }
                switch pair[0] {
                case "rtt": rtt = value
                case "bandwidth": bandwidth = value
                case "loss": loss = value
                default: throw LinkControlError("unknown setting \"\(pair[0])\"; use rtt, bandwidth or loss")
                }
            }
            return .set(rttMs: rtt, bandwidthKbps: bandwidth, loss: loss)
        default:
            throw LinkControlError("unknown command \"\(line)\"; use cut, heal, status or set rtt=MS bandwidth=KBITS loss=F")
        }
    }

    /// The line that sends this command.
    public var line: String {
        switch self {
        case .cut: return "cut"
        case .heal: return "heal"
        case .status: return "status"
        case .set(let rtt, let bandwidth, let loss):
            var words = ["set"]
            if let rtt { words.append("rtt=\(rtt)") }
            if let bandwidth { words.append("bandwidth=\(bandwidth)") }
            if let loss { words.append("loss=\(loss)") }
            return words.joined(separator: " ")
        }
    }
}

/// A control line that could not be understood or applied.
public struct LinkControlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and what to send instead.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
