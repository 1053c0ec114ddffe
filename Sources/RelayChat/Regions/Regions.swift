import ArgumentParser
import Foundation
import Logging
import NIOCore
import RelayCore
import RelayOps
import RelayReplication
import RelayStore
import RelayTopology

/// A node's multi-region parts, built by `relay serve --topology` when the
/// topology has more than one region: the region authority, the
/// replication transport, and the chat side's ``Replicator``.
package struct Regions: Sendable {
    package let authority: RegionAuthority
    package let service: ReplicationService
    package let replicator: Replicator
    /// Heartbeats and automatic failover, when the topology asks for them.
    package let watcher: RegionWatcher?
    private let delegate: ChatReplication
    private let loop: any EventLoop
    private let logger: Logger

    /// Nil for a single-region deployment (no topology, or one region).
    /// `node` is this node's index among the region's (its peer listener
    /// is on the port `node` past the region's `peers`).
    package static func start(
        topologyPath: String?, settings: RegionSettings, node: Int = 0, mirror: MirrorMode, keyDir: String, store: ChatStore,
        redis: RedisClient, redisConfiguration: RedisConfiguration, group: any EventLoopGroup, logger: Logger
    ) async throws -> Regions? {
        guard let topologyPath else { return nil }
        let topology: Topology
        do {
            topology = try Topology.load(path: topologyPath)
        } catch {
            throw ValidationError("cannot read \(topologyPath): \(error) (relayctl topology check --file \(topologyPath) explains)")
        }
        guard topology.regions.count > 1 else { return nil }
        guard let own = topology.region(named: settings.name) else {
            throw ValidationError("region \(settings.name) is not in \(topologyPath) (regions: \(topology.regions.map(\.name).joined(separator: ", ")))")
        }
        guard node >= 0, node < own.nodeCount, let peerListen = own.address(own.peers, node: node) else {
            throw ValidationError("node \(node) is not a node of \(settings.name): \(topologyPath) gives it \(own.nodeCount) (\"nodes\"), numbered from 0")
        }
        var serviceConfiguration = ReplicationService.Configuration()
        serviceConfiguration.listen = HostPort(host: peerListen.host, port: peerListen.port)
        // Unique per running node (a restarted node is a new holder); the index is for people reading leases.
        let nodeID = "\(node)-\(UUID().uuidString.prefix(8))"
        let credentials: PeerCredentials
        do {
            credentials = try PeerCredentials.load(fromDirectory: keyDir)
        } catch {
            throw ValidationError("cannot read the peers' secret in \(keyDir)/: \(error) (relayctl keys init --dir \(keyDir) creates it)")
        }
        let loop = group.next()
        let map = RegionMap(local: settings.name, standbys: topology.standbys)
        let authority = RegionAuthority(map: map, redis: redis, logger: logger)
        try await authority.reload(on: loop).get()
        let delegate = ChatReplication(authority: authority, loop: loop)
        let service = try ReplicationService(
            region: settings.name, topology: topology, outbox: try Outbox(redis: redis, cap: settings.outboxCap), credentials: credentials,
            delegate: delegate, redis: redis, redisConfiguration: redisConfiguration, group: group, logger: logger,
            configuration: serviceConfiguration, nodeID: nodeID)
        let replicator = Replicator(
            local: settings.name, authority: authority, directory: Directory(redis: redis), sink: service, mode: mirror,
            gatherWindow: settings.mirrorGather, deviceEndpoints: Dictionary(uniqueKeysWithValues: topology.regions.map { ($0.name, $0.devices) }),
            store: store, logger: logger)
        let watcher = try topology.watchConfiguration.map { configuration in
            try RegionWatcher(
                local: settings.name, topology: topology, configuration: configuration, authority: authority,
                outbox: try Outbox(redis: redis), credentials: credentials, nodeID: nodeID, loop: loop, logger: logger)
        }
        if let watcher { delegate.attach(watcher: watcher) }
        logger.info("replicating", metadata: [
            "region": "\(settings.name)", "node": "\(nodeID)", "peers": "\(map.peers)", "mirror": "\(mirror.rawValue)",
            "failover": "\(watcher == nil ? "by operator" : "automatic")",
        ])
        return Regions(authority: authority, service: service, replicator: replicator, watcher: watcher, delegate: delegate, loop: loop, logger: logger)
    }

    /// The router is built: frames may be applied, and region changes move devices.
    package func attach(_ router: ChatRouter) {
        delegate.attach(router: router, replicator: replicator)
        let loop = self.loop
        authority.onChange { changed, map in
            router.regionsChanged(map)
            router.rerouteForwardedSends(changed: changed, map: map, on: loop)
        }
        watcher?.onLeaseChange { held in
            if held {
                // Forwarded sends parked while the lease was not held go on now.
                router.drainParked(on: loop)
            } else {
                router.leaseLost()
            }
        }
    }

    /// `relayctl` changed the stored region states.
    package func reload() {
        authority.reload(on: loop).whenFailure { [logger] error in
            // The next change notice, or the peers' gossip, brings the states again.
            logger.warning("region states not reloaded", metadata: ["error": "\(error)"])
        }
    }
}
