import NIOCore

/// `/readyz`'s view of the replication links: every link with its state,
/// frames waiting and lag, e.g. `eu-west: connected, 0 frames, lag 0 ms;
/// ap-south: DOWN (...), 12 frames, lag 3400 ms`.
///
/// A peer that is down never makes this region unready: a region keeps
/// serving its devices when partitioned, and its outboxes hold the frames
/// until the link heals. The body says so. (Redis being down is the
/// `redis` check's business; here it shows as links of unknown state.)
public struct ReplicationReadiness: ReadinessCheck {
    private let service: ReplicationService

    /// A check of `service`'s links.
    public init(service: ReplicationService) {
        self.service = service
    }

    public var name: String { "replication" }

    public func check(on eventLoop: any EventLoop) -> EventLoopFuture<ReadinessResult> {
        service.links(on: eventLoop).map { links in
            .ready(Self.describe(links))
        }.recover { error in
            .ready("link state unknown: \(error)")
        }
    }

    /// One clause per link, `; `-separated.
    public static func describe(_ links: [ReplicationLinkState]) -> String {
        if links.isEmpty { return "no peers" }
        return links.map { link in
            var parts: [String] = []
            if link.connected {
                parts.append("\(link.peer): connected")
            } else if !link.shipping {
                parts.append("\(link.peer): shipped by another node")
            } else {
                parts.append("\(link.peer): DOWN (\(link.lastError ?? "not connected"); still serving, frames kept)")
            }
            parts.append("\(link.frames) frames")
            parts.append("lag \(link.lagMs) ms")
            return parts.joined(separator: ", ")
        }.joined(separator: "; ")
    }
}
