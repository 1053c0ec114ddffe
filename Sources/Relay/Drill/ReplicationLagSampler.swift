import Foundation
import NIOCore
import NIOPosix

/// Reads every live region's `/metrics` once a second during a drill and
/// keeps the largest replication lag seen: `relay_replication_lag_seconds`
/// (age of the oldest unacknowledged frame) and
/// `relay_replication_outbox_frames` (frames not yet acknowledged), over all
/// peers. A region that does not answer (killed) is skipped.
final class ReplicationLagSampler: Sendable {
    /// The largest values seen.
    struct Peak: Sendable, Hashable, Codable {
        /// Largest `relay_replication_lag_seconds`, in ms.
        var lagMs: Double = 0
        /// Largest `relay_replication_outbox_frames`.
        var outboxFrames: Double = 0
        /// Region whose outbox held the largest lag.
        var lagRegion: String?
        /// Scrapes that answered.
        var samples = 0
    }

    /// Since when every region that answered has had empty outboxes (nil while some has frames).
    private let emptySince = AwaitableState<ContinuousClock.Instant?>(nil)

    private let regions: [(name: String, address: HostPort)]
    private let peak = AwaitableState(Peak())
    private let task = AwaitableState<Task<Void, Never>?>(nil)

    /// A sampler of the regions' HTTP endpoints (`name`, `HOST:PORT`).
    init(regions: [(name: String, http: String)]) {
        self.regions = regions.compactMap { region in HostPort(argument: region.http).map { (region.name, $0) } }
    }

    /// Starts sampling once a second.
    func start() {
        let sampling = Task {
            while !Task.isCancelled {
                await self.sampleOnce()
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.update { $0 = sampling }
    }

    /// Stops sampling; returns the peak.
    func stop() -> Peak {
        task.value?.cancel()
        return peak.value
    }

    /// How long every region that answers has had nothing left to replicate; zero while some has.
    var outboxesEmptyFor: Duration {
        emptySince.value.map { ContinuousClock.now - $0 } ?? .zero
    }

    /// Scrapes every region once.
    func sampleOnce() async {
        var pending: Double = 0
        var answered = 0
        for region in regions {
            guard let text = try? await Self.get("/metrics", from: region.address) else { continue }
            let lag = Self.maximum(of: "relay_replication_lag_seconds", in: text)
            let frames = Self.maximum(of: "relay_replication_outbox_frames", in: text)
            pending += frames ?? 0
            answered += 1
            peak.update { peak in
                peak.samples += 1
                if let lag, lag * 1000 > peak.lagMs {
                    peak.lagMs = lag * 1000
                    peak.lagRegion = region.name
                }
                if let frames { peak.outboxFrames = max(peak.outboxFrames, frames) }
            }
        }
        let now = ContinuousClock.now
        guard answered > 0 else { return }
        let empty = pending == 0
        emptySince.update { since in since = empty ? (since ?? now) : nil }
    }

    /// The largest value of `metric` (any labels) in a Prometheus text exposition.
    static func maximum(of metric: String, in text: String) -> Double? {
        var best: Double?
        for line in text.split(separator: "\n") where line.hasPrefix(metric) {
            let rest = line.dropFirst(metric.count)
            guard rest.first == " " || rest.first == "{" else { continue }
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }), value.isFinite else { continue }
            best = max(best ?? value, value)
        }
        return best
    }

    /// A plain HTTP/1.1 GET with `Connection: close`; the body, read until the peer closes.
    static func get(_ path: String, from address: HostPort) async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(500))
            .connect(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = group.next().scheduleTask(in: .seconds(2)) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n"))
            var received: [UInt8] = []
            for try await var chunk in inbound {
                received += chunk.readBytes(length: chunk.readableBytes) ?? []
                if let body = Self.completeBody(received) { return body }
            }
            return Self.completeBody(received, atEnd: true) ?? ""
        }
    }

    /// The body once the response is complete (by Content-Length, or at the end of the stream).
    private static func completeBody(_ bytes: [UInt8], atEnd: Bool = false) -> String? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        let body = bytes[(end + 4)...]
        if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
            return body.count >= length ? String(decoding: body.prefix(length), as: UTF8.self) : nil
        }
        return atEnd ? String(decoding: body, as: UTF8.self) : nil
    }
}
