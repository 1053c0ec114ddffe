import NIOCore
import RelayOps

/// `/readyz`'s view of the replication links: every link with its state,
/// frames waiting and lag, e.g. `eu-west: connected, 0 frames, lag 0 ms;
/// ap-south: DOWN (...), 12 frames, lag 3400 ms`.
///
/// A peer that is down never makes this region unready: a region keeps
/// serving its devices when partitioned, and its outboxes hold the frames
/// until the link heals. The body says so. Nor does a link broken at its
/// outbox's cap (decision 0015): the region still serves its own devices;
/// the body says BROKEN and what the operator runs, and
/// `relay_replication_link_broken` is 1. (Redis being down is the
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
            .ready(Self.describe(links, region: service.region))
        }.recover { error in
            .ready("link state unknown: \(error)")
        }
    }

    /// One clause per link, `; `-separated; `region` is this region (named
    /// in what to run for a broken link).
    public static func describe(_ links: [ReplicationLinkState], region: String = "<this region>") -> String {
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
            if let broken = link.broken {
                parts.append(
                    "BROKEN at the outbox cap since \(broken.atMs) ms (\(broken.frames) frames, \(broken.bytes) bytes held; "
                        + "\(broken.discarded) frames discarded, nothing shipped): re-seed \(link.peer), then "
                        + "relayctl outbox reset --region \(region) --peer \(link.peer)")
                return parts.joined(separator: ", ")
            }
            parts.append("\(link.frames) frames")
            parts.append("lag \(link.lagMs) ms")
            parts.append("\(link.bytes) bytes held")
            return parts.joined(separator: ", ")
        }.joined(separator: "; ")
    }
}
