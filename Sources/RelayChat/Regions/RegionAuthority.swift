import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayStore

/// This region's view of who serves which region (a ``RegionMap``), kept in
/// memory for every connect and send, persisted in Redis (hash `regions`:
/// region → `term|servedBy|fenced`) and merged with what peers and
/// `relayctl` say. Terms only grow, so views converge whatever the order.
///
/// A region does not accept device writes until it has heard a peer's view
/// (or has no peers): a region coming back after being failed over learns it
/// before it sequences anything.
package final class RegionAuthority: Sendable {
    /// The Redis hash holding every region's state.
    static let key = "regions"
    /// The Pub/Sub channel `relayctl` publishes on after changing `regions`.
    package static let channel = "regions"

    package typealias ChangeHandler = @Sendable (_ regions: [String], _ map: RegionMap) -> Void

    private let map: NIOLockedValueBox<RegionMap>
    private let heardPeer: NIOLockedValueBox<Bool>
    private let handlers = NIOLockedValueBox<[ChangeHandler]>([])
    /// With automatic failover, whether this region holds its write lease (``RegionWatcher``).
    private let leaseHeld = NIOLockedValueBox<LeaseCheck?>(nil)

    /// The lease test, in a struct: a closure stored directly as a generic
    /// box's value is reabstracted on every `inout` access
    /// (`withLockedValue`), which wraps it in two more thunks each time, so
    /// each call of `isWritable` (every send) grew a chain of thunks that
    /// the next call walked: CPU per send grew with the region's uptime.
    private struct LeaseCheck: Sendable {
        let held: @Sendable () -> Bool
    }
    private let redis: RedisClient
    private let logger: Logger

    init(map: RegionMap, redis: RedisClient, logger: Logger) {
        self.map = NIOLockedValueBox(map)
        self.heardPeer = NIOLockedValueBox(map.peers.isEmpty)
        self.redis = redis
        self.logger = logger
    }

    /// The current view.
    var current: RegionMap { map.withLockedValue { $0 } }

    /// Whether this region may accept device writes yet (it heard a peer).
    var isSettled: Bool { heardPeer.withLockedValue { $0 } }

    /// Whether this region may accept device writes now: it has heard a
    /// peer and, with automatic failover, holds its lease from a majority.
    var isWritable: Bool {
        guard isSettled else { return false }
        return leaseHeld.withLockedValue { $0 }?.held() ?? true
    }

    /// From now on, writes also need `held()` to be true (automatic failover).
    func requireLease(_ held: @escaping @Sendable () -> Bool) {
        leaseHeld.withLockedValue { $0 = LeaseCheck(held: held) }
    }

    /// A change this region decided itself (automatic failover or
    /// failback): merged, persisted and told to the handlers like a
    /// peer's; peers learn it from the next heartbeat or batch.
    func decide(_ state: RegionMap.State, of region: String, on loop: any EventLoop) {
        merge([region: state], persist: true, on: loop)
    }

    /// `handler` runs after every change, with the regions that changed.
    package func onChange(_ handler: @escaping ChangeHandler) {
        handlers.withLockedValue { $0.append(handler) }
    }

    /// Reads the persisted view (e.g. at startup, or when `relayctl` says it changed).
    func reload(on loop: any EventLoop) -> EventLoopFuture<Void> {
        Self.storedView(in: redis, on: loop).map { view in
            self.merge(view, persist: false, on: loop)
        }
    }

    /// The region states stored in a region's Redis (hash `regions`).
    static func storedView(in redis: RedisClient, on loop: any EventLoop) -> EventLoopFuture<[String: RegionMap.State]> {
        redis.send(RedisCommand("HGETALL", key), on: loop).map { reply in
            let values = reply.array ?? []
            var view: [String: RegionMap.State] = [:]
            for i in stride(from: 0, to: values.count - 1, by: 2) {
                if let region = values[i].string, let state = values[i + 1].string.flatMap(RegionMap.State.init(stored:)) {
                    view[region] = state
                }
            }
            return view
        }
    }

    /// Merges a peer's view (gossip on batches and PUBACKs).
    func learn(_ states: [Relay_V1_RegionState], from peer: String, on loop: any EventLoop) {
        heardPeer.withLockedValue { $0 = true }
        var view: [String: RegionMap.State] = [:]
        for state in states where !state.region.isEmpty && state.term > 0 {
            view[state.region] = RegionMap.State(state)
        }
        merge(view, persist: true, on: loop)
    }

    /// This region's view, for gossip.
    func states() -> [Relay_V1_RegionState] {
        let map = current
        return map.regions.map { map.state(of: $0).message(region: $0) }
    }

    private func merge(_ view: [String: RegionMap.State], persist: Bool, on loop: any EventLoop) {
        let (changed, after) = map.withLockedValue { map in (map.merge(view), map) }
        guard !changed.isEmpty else { return }
        for region in changed {
            let state = after.state(of: region)
            logger.notice("region state changed", metadata: [
                "region": "\(region)", "term": "\(state.term)", "served_by": "\(state.servedBy)", "fenced": "\(state.fenced)",
            ])
        }
        if persist {
            let commands = changed.map { region in
                RedisCommand("HSET", Self.key, region, after.state(of: region).stored)
            }
            redis.pipeline(commands, on: loop).whenFailure { error in
                self.logger.error("persisting region states failed", metadata: ["error": "\(error)"])
            }
        }
        for handler in handlers.withLockedValue({ $0 }) { handler(changed, after) }
    }
}
