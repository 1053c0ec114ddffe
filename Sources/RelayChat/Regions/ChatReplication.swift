import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayReplication

/// The chat relay as the replication transport's delegate: frames are
/// applied by the ``ChatRouter``, region states go to the
/// ``RegionAuthority``. Made before the router (the transport needs it
/// first); the router is attached once built, and frames arriving before
/// that fail (the origin ships them again).
final class ChatReplication: ReplicationDelegate {
    private let authority: RegionAuthority
    private let attached = NIOLockedValueBox<(router: ChatRouter, replicator: Replicator)?>(nil)
    private let watcher = NIOLockedValueBox<RegionWatcher?>(nil)
    private let loop: any EventLoop

    init(authority: RegionAuthority, loop: any EventLoop) {
        self.authority = authority
        self.loop = loop
    }

    func attach(router: ChatRouter, replicator: Replicator) {
        attached.withLockedValue { $0 = (router, replicator) }
    }

    /// Heartbeats go to `watcher` from now on (automatic failover).
    func attach(watcher: RegionWatcher) {
        self.watcher.withLockedValue { $0 = watcher }
    }

    func heartbeat(_ heartbeat: Relay_V1_Heartbeat, from origin: String) -> Bool {
        guard let watcher = watcher.withLockedValue({ $0 }) else {
            if !heartbeat.regions.isEmpty { learn(heartbeat.regions, from: origin) }
            return true
        }
        return watcher.heard(heartbeat, from: origin)
    }

    func apply(_ frame: Relay_V1_Frame, from origin: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let (router, replicator) = attached.withLockedValue({ $0 }) else {
            return loop.makeFailedFuture(ChatError(.unavailable, "the chat relay is starting"))
        }
        return router.applyChecked(frame, from: origin, replicator: replicator, on: loop)
    }

    func regionStates() -> [Relay_V1_RegionState] {
        authority.states()
    }

    func learn(_ states: [Relay_V1_RegionState], from peer: String) {
        authority.learn(states, from: peer, on: loop)
    }
}

extension ReplicationService: FrameSink {
    func lastAppended(peer: String, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        outbox.status(peer: peer, on: loop).map(\.appended)
    }

    func pending(peer: String, after: UInt64, limit: Int, on loop: any EventLoop) -> EventLoopFuture<[OutboxEntry]> {
        // The stream keeps only what the peer has not acknowledged (acknowledging trims it).
        outbox.read(peer: peer, after: after, limit: limit, on: loop)
    }
}
