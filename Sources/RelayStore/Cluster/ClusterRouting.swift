/// A cluster client's slot map, lent to another part of the store that
/// connects to the cluster's nodes by itself (the subscriber's sharded
/// Pub/Sub, which must subscribe on the master of each channel's slot).
///
/// Obtained from ``RedisClient/clusterRouting``: it reads the map the
/// client keeps (refreshed after redirects, failures and periodically), and
/// asks the client for a refresh when the borrower learnt the map is stale.
public struct ClusterRouting: Sendable {
    private let topology: ClusterTopology
    private let askRefresh: @Sendable () -> Void

    init(topology: ClusterTopology, askRefresh: @escaping @Sendable () -> Void) {
        self.topology = topology
        self.askRefresh = askRefresh
    }

    /// The master of `slot` as the map names it; when the map names none
    /// (not read yet, or the slot is not served), the first master or seed.
    public func node(for slot: HashSlot) -> RedisNodeAddress? {
        let map = self.topology.snapshot.map
        return map.master(for: slot) ?? ClusterTopology.fallback(map, seeds: self.topology.seeds)
    }

    /// Records a `MOVED` seen by the borrower: `slot` is on `master`.
    public func moved(_ slot: HashSlot, to master: RedisNodeAddress) {
        self.topology.moved(slot, to: master)
        self.askRefresh()
    }

    /// Asks the client to read the map again soon (at most once per its
    /// minimum refresh interval).
    public func refresh() {
        self.askRefresh()
    }
}
