import NIOConcurrencyHelpers
import NIOCore

/// What a cluster client knows of its cluster, shared by the event loops of
/// one `RedisClient`: the slot map, and when to ask the cluster again.
///
/// Any loop may start a refresh (`CLUSTER SLOTS`, see `ClusterLoop`); at
/// most one runs at a time, and they start at most every
/// `minimumRefreshInterval`: a refresh asked for meanwhile runs once the
/// interval is over.
final class ClusterTopology: Sendable {
    private struct State {
        var map = ClusterSlotMap()
        /// Bumped at every change of `map`.
        var version = 0
        var refreshing = false
        /// A refresh was asked for while one ran or too early.
        var wanted = false
        var lastStart = NIODeadline.uptimeNanoseconds(0)
    }

    /// The nodes given in the configuration, asked when the map names none that answers.
    let seeds: [RedisNodeAddress]
    let minimumRefreshInterval: TimeAmount
    private let state = NIOLockedValueBox(State())
    /// Which masters' writes wait for a replica (shared: a master degraded
    /// on one loop is degraded on all).
    let replicaAcks: NIOLockedValueBox<ReplicaAcks>

    init(seeds: [RedisNodeAddress], minimumRefreshInterval: TimeAmount, replicaAcks: ReplicaAcks) {
        self.seeds = seeds
        self.minimumRefreshInterval = minimumRefreshInterval
        self.replicaAcks = NIOLockedValueBox(replicaAcks)
    }

    /// The current map and its version.
    var snapshot: (map: ClusterSlotMap, version: Int) {
        self.state.withLockedValue { ($0.map, $0.version) }
    }

    /// Where a keyless request goes: the first master, else the first seed.
    static func fallback(_ map: ClusterSlotMap, seeds: [RedisNodeAddress]) -> RedisNodeAddress? {
        map.masters.first ?? seeds.first
    }

    /// The nodes to ask for the map, in order: the masters, their replicas, then the seeds.
    var refreshCandidates: [RedisNodeAddress] {
        let map = self.snapshot.map
        var seen = Set<RedisNodeAddress>()
        var candidates: [RedisNodeAddress] = []
        for node in map.masters + map.shards.flatMap(\.replicas) + self.seeds where seen.insert(node).inserted {
            candidates.append(node)
        }
        return candidates
    }

    /// Records a `MOVED`: `slot` is on `master` from now on.
    func moved(_ slot: HashSlot, to master: RedisNodeAddress) {
        self.state.withLockedValue { state in
            guard state.map.master(for: slot) != master else { return }
            state.map = state.map.moving(slot, to: master)
            state.version &+= 1
        }
    }

    /// What a loop should do about a refresh it wants.
    enum RefreshDecision: Equatable {
        /// Start one now.
        case start
        /// One runs, or ran too recently; it is noted, and runs after `delay` (nil: when the running one ends).
        case later(delay: TimeAmount?)
        /// Already noted.
        case nothing
    }

    /// Asks for a refresh at `now`.
    func wantRefresh(now: NIODeadline) -> RefreshDecision {
        self.state.withLockedValue { state in
            if state.refreshing {
                state.wanted = true
                return .nothing
            }
            let earliest = state.lastStart + self.minimumRefreshInterval
            if now >= earliest {
                state.refreshing = true
                state.wanted = false
                state.lastStart = now
                return .start
            }
            if state.wanted { return .nothing }
            state.wanted = true
            return .later(delay: earliest - now)
        }
    }

    /// A scheduled refresh is due: starts it unless one runs.
    func dueRefresh(now: NIODeadline) -> Bool {
        self.state.withLockedValue { state in
            guard !state.refreshing, state.wanted else { return false }
            state.refreshing = true
            state.wanted = false
            state.lastStart = now
            return true
        }
    }

    /// The refresh ended, with the map read (nil: no node answered with
    /// one). Returns whether another was asked for meanwhile.
    func refreshEnded(with map: ClusterSlotMap?) -> Bool {
        self.state.withLockedValue { state in
            state.refreshing = false
            if let map, map != state.map {
                state.map = map
                state.version &+= 1
            }
            return state.wanted
        }
    }
}
