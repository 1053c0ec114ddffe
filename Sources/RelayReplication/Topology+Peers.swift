import RelayOps
import RelayTopology

extension Topology {
    /// Where region `origin`'s shipper connects to reach region `peer`: the
    /// listen address of the delay proxy on their link whose `to` is `peer`,
    /// or `peer`'s own `peers` endpoint when the link has no such proxy.
    /// Nil when `peer` is not a region or the address is not `HOST:PORT`.
    public func peerAddress(from origin: String, to peer: String) -> HostPort? {
        peerAddresses(from: origin, to: peer).first
    }

    /// Every address where region `origin` may reach region `peer`, to try
    /// in turn: the delay proxy on their link whose `to` is `peer` (which
    /// itself forwards to any of `peer`'s nodes), or else the peer listener
    /// of each of `peer`'s nodes (``Topology/Region/nodeCount``), node 0
    /// first. Empty when `peer` is not a region or its address is not
    /// `HOST:PORT`.
    public func peerAddresses(from origin: String, to peer: String) -> [HostPort] {
        if let proxy = link(between: origin, and: peer)?.proxies.first(where: { $0.to == peer }) {
            return HostPort(argument: proxy.listen).map { [$0] } ?? []
        }
        guard let region = region(named: peer) else { return [] }
        return (0..<region.nodeCount).compactMap { node in
            region.address(region.peers, node: node).map { HostPort(host: $0.host, port: $0.port) }
        }
    }
}
