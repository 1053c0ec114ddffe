/// Which node serves each hash slot of a Redis Cluster, as its `CLUSTER
/// SLOTS` reply says, with the redirects learnt since (`MOVED`).
public struct ClusterSlotMap: Hashable, Sendable {
    /// One master and its replicas, serving some slots.
    public struct Shard: Hashable, Sendable {
        /// The node that takes writes for the shard's slots.
        public var master: RedisNodeAddress
        /// Its replicas, as the cluster listed them.
        public var replicas: [RedisNodeAddress]

        /// A shard of `master` and `replicas`.
        public init(master: RedisNodeAddress, replicas: [RedisNodeAddress] = []) {
            self.master = master
            self.replicas = replicas
        }
    }

    /// The shards, each listed once.
    public private(set) var shards: [Shard]
    /// For each slot, the index of its shard in `shards`, or -1 when no node serves it.
    private var owners: [Int16]

    /// A map where no slot is served.
    public init() {
        self.shards = []
        self.owners = Array(repeating: -1, count: HashSlot.count)
    }

    /// The master serving `slot`, or nil when the map names none.
    public func master(for slot: HashSlot) -> RedisNodeAddress? {
        let owner = Int(self.owners[Int(slot.value)])
        guard owner >= 0, owner < self.shards.count else { return nil }
        return self.shards[owner].master
    }

    /// Every master of the map, in the order of `shards`.
    public var masters: [RedisNodeAddress] { self.shards.map(\.master) }

    /// Every node of the map, masters and replicas.
    public var nodes: Set<RedisNodeAddress> {
        Set(self.shards.flatMap { [$0.master] + $0.replicas })
    }

    /// How many slots have a node.
    public var servedSlotCount: Int { self.owners.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// Whether every slot has a node.
    public var coversEverySlot: Bool { !self.owners.contains(-1) }

    /// Assigns `slots` to the shard with `master` (added when new).
    public mutating func assign(_ slots: ClosedRange<Int>, to shard: Shard) {
        let index: Int
        if let existing = self.shards.firstIndex(where: { $0.master == shard.master }) {
            index = existing
            self.shards[existing].replicas = shard.replicas.isEmpty ? self.shards[existing].replicas : shard.replicas
        } else {
            index = self.shards.count
            self.shards.append(shard)
        }
        let clamped = max(0, slots.lowerBound)...min(HashSlot.count - 1, slots.upperBound)
        guard clamped.lowerBound <= clamped.upperBound, let owner = Int16(exactly: index) else { return }
        for slot in clamped { self.owners[slot] = owner }
    }

    /// This map after a `MOVED` redirect: `slot` is served by `master`
    /// (the rest stays as it was until the next refresh).
    public func moving(_ slot: HashSlot, to master: RedisNodeAddress) -> ClusterSlotMap {
        var map = self
        let known = self.shards.first(where: { $0.master == master }) ?? Shard(master: master)
        map.assign(Int(slot.value)...Int(slot.value), to: known)
        return map
    }
}
