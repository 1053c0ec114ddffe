extension Topology {
    /// Where region `origin`'s shipper connects to reach region `peer`: the
    /// listen address of the delay proxy on their link whose `to` is `peer`,
    /// or `peer`'s own `peers` endpoint when the link has no such proxy.
    /// Nil when `peer` is not a region or the address is not `HOST:PORT`.
    public func peerAddress(from origin: String, to peer: String) -> HostPort? {
        if let proxy = link(between: origin, and: peer)?.proxies.first(where: { $0.to == peer }) {
            return HostPort(argument: proxy.listen)
        }
        return region(named: peer).flatMap { HostPort(argument: $0.peers) }
    }
}
