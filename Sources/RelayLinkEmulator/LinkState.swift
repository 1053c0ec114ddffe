import Foundation
import NIOCore
import Synchronization

/// What one delay proxy shares between its connections and its control
/// listener: the conditions, whether the link is cut, the open connections.
package final class LinkState: Sendable {
    private struct Value {
        var conditions: LinkConditions
        var cut = false
        var channels: [ObjectIdentifier: any Channel] = [:]
        var accepted = 0
        var refused = 0
        var forwardedBytes = 0
    }

    private let value: Mutex<Value>

    init(conditions: LinkConditions) {
        value = Mutex(Value(conditions: conditions))
    }

    var conditions: LinkConditions { value.withLock { $0.conditions } }

    /// Whether a new connection may be accepted; counts it either way.
    func admit() -> Bool {
        value.withLock { v in
            if v.cut { v.refused += 1 } else { v.accepted += 1 }
            return !v.cut
        }
    }

    /// Tracks `channel` until it closes, so that `cut` can close it. Closes it
    /// at once when the link was cut meanwhile.
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let cut = value.withLock { v in
            if !v.cut { v.channels[id] = channel }
            return v.cut
        }
        if cut {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = value.withLock { $0.channels.removeValue(forKey: id) }
        }
    }

    func forwarded(_ bytes: Int) {
        value.withLock { $0.forwardedBytes += bytes }
    }

    /// Applies `command` and returns the reply line.
    func apply(_ command: LinkControlCommand, listen: String, to: String) -> String {
        switch command {
        case .cut:
            // Compute under the lock, close outside it.
            let channels = value.withLock { v in
                v.cut = true
                defer { v.channels.removeAll() }
                return Array(v.channels.values)
            }
            for channel in channels { channel.close(promise: nil) }
            return "ok cut, closed \(channels.count) socket\(channels.count == 1 ? "" : "s")"
        case .heal:
            value.withLock { $0.cut = false }
            return "ok healed"
        case .set(let rtt, let bandwidth, let loss):
            var next = conditions
            if let rtt { next.rttMs = rtt }
            if let bandwidth { next.bandwidthKbps = bandwidth }
            if let loss { next.loss = loss }
            if let problem = next.problem { return "error: \(problem)" }
            value.withLock { $0.conditions = next }
            return "ok rtt=\(next.rttMs) bandwidth=\(next.bandwidthKbps) loss=\(next.loss)"
        case .status:
            let status = value.withLock { v in
                LinkStatus(
                    listen: listen, to: to, cut: v.cut,
                    rttMs: v.conditions.rttMs, bandwidthKbps: v.conditions.bandwidthKbps, loss: v.conditions.loss,
                    openChannels: v.channels.count, accepted: v.accepted, refused: v.refused, forwardedBytes: v.forwardedBytes
                )
            }
            return status.json
        }
    }
}

/// The reply to `status`, one line of JSON.
public struct LinkStatus: Codable, Sendable, Equatable {
    /// Where the proxy listens.
    public var listen: String
    /// Where it forwards to.
    public var to: String
    /// Whether the link is cut (partitioned).
    public var cut: Bool
    /// Current round-trip time, ms.
    public var rttMs: Double
    /// Current bandwidth per direction, kbit/s.
    public var bandwidthKbps: Double
    /// Current loss fraction.
    public var loss: Double
    /// Open sockets (two per proxied connection).
    public var openChannels: Int
    /// Connections accepted since start.
    public var accepted: Int
    /// Connections refused because the link was cut.
    public var refused: Int
    /// Bytes forwarded, both directions together.
    public var forwardedBytes: Int

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).flatMap { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
