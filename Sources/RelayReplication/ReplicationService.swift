import Foundation
import Logging
import MQTT
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayOps
import RelayStore
import RelayTopology

/// The replication transport of one node of one region: a ``Shipper`` per
/// other region of the topology, and the peer listener (an `MQTTServer`
/// with ``PeerAuthenticator`` and ``ReplicationRouter``) on the region's
/// `peers` address.
///
/// Typical use in `relay serve`:
/// ```swift
/// let replication = try ReplicationService(region: name, topology: topology, outbox: Outbox(redis: client),
///     credentials: try PeerCredentials.load(fromDirectory: keyDir), delegate: chat, redis: client,
///     redisConfiguration: redisConfiguration, group: group, logger: logger)
/// try await replication.start()
/// ...
/// let ids = try await replication.append(frames, to: "eu-west", on: loop).get()
/// try await replication.waitUntilAcknowledged(peer: "eu-west", id: ids.last!, timeout: .seconds(2), on: loop).get()
/// ...
/// await replication.shutdown()
/// ```
public final class ReplicationService: Sendable {
    /// What the service runs with beyond the topology.
    public struct Configuration: Sendable {
        /// Every shipper's pacing.
        public var shipper = ShipperConfiguration()
        /// The peer listener's address; nil for the region's `peers` address
        /// in the topology (node 0's; ``Topology/Region/address(_:node:)``
        /// gives another node's). Port 0 picks a free port (tests).
        public var listen: HostPort?
        /// The peer listener's engine limits (Maximum Packet Size must fit a batch).
        public var server: MQTTServerConfiguration = {
            var configuration = MQTTServerConfiguration()
            configuration.maximumPacketSize = 16 * 1_048_576
            configuration.maximumSessionExpiry = 0
            configuration.retainAvailable = false
            return configuration
        }()
        /// How often the outbox gauges are refreshed.
        public var metricsInterval: TimeAmount = .seconds(1)

        /// The defaults.
        public init() {}
    }

    /// This region.
    public let region: String
    /// The outboxes this service ships.
    public let outbox: Outbox
    /// Frames applied here, shipped from here, and the links' gauges.
    public let metrics: ReplicationMetrics
    /// The peer listener's router.
    public let router: ReplicationRouter

    private let shippers: [String: Shipper]
    private let server: MQTTServer
    private let listen: HostPort
    private let subscriber: RedisSubscriber?
    private let group: any EventLoopGroup
    private let logger: Logger
    private let configuration: Configuration
    private let refresher = NIOLockedValueBox<RepeatedTask?>(nil)

    /// Builds the service for `region` of `topology`; nothing runs before
    /// ``start()``. `redisConfiguration`, when given, opens a Pub/Sub
    /// connection so that appends and acknowledgements made by the region's
    /// other nodes wake this node at once (otherwise it polls). `nodeID`
    /// names this node in the region's leases (its shippers' and its peer
    /// listener's): unique per running node.
    public init(
        region: String, topology: Topology, outbox: Outbox, credentials: PeerCredentials,
        delegate: any ReplicationDelegate, redis: RedisClient, redisConfiguration: RedisConfiguration? = nil,
        group: any EventLoopGroup, logger: Logger, configuration: Configuration = Configuration(),
        nodeID: String = UUID().uuidString
    ) throws {
        guard let own = topology.region(named: region) else {
            throw ReplicationError(.unknownPeer, "\(region) is not a region of the topology")
        }
        guard let listen = configuration.listen ?? HostPort(argument: own.peers) else {
            throw ReplicationError(.unknownPeer, "the peers address of \(region), \(own.peers), is not HOST:PORT")
        }
        let metrics = ReplicationMetrics()
        var shippers: [String: Shipper] = [:]
        for peer in topology.regions.map(\.name) where peer != region {
            let addresses = topology.peerAddresses(from: region, to: peer)
            guard !addresses.isEmpty else {
                throw ReplicationError(.unknownPeer, "no address for \(region) to reach \(peer)")
            }
            shippers[peer] = try Shipper(
                origin: region, peer: peer, addresses: addresses, outbox: outbox, credentials: credentials,
                delegate: delegate, redis: redis, nodeID: nodeID, configuration: configuration.shipper,
                metrics: metrics, loop: group.next(), logger: logger)
        }
        let router = try ReplicationRouter(
            region: region, delegate: delegate, redis: redis, group: group, metrics: metrics, nodeID: nodeID, logger: logger)
        let authenticator = PeerAuthenticator(
            region: region, regions: topology.regions.map(\.name), credentials: credentials)

        self.region = region
        self.outbox = outbox
        self.metrics = metrics
        self.router = router
        self.shippers = shippers
        self.listen = listen
        self.server = MQTTServer(
            configuration: configuration.server, router: router, authenticator: authenticator, group: group,
            logger: logger)
        self.group = group
        self.logger = logger
        self.configuration = configuration
        if let redisConfiguration {
            let shippers = shippers
            let wake: @Sendable (String, ByteBuffer) -> Void = { channel, payload in
                guard channel.hasPrefix("r:"), let shipper = shippers[String(channel.dropFirst(2))] else { return }
                let text = String(buffer: payload)
                if text.hasPrefix("a"), let id = UInt64(text.dropFirst()) {
                    shipper.observeAcknowledged(id)
                } else if text.hasPrefix("b") || text.hasPrefix("r") {
                    // The link broke at its cap, or an operator reset it: learn which at once.
                    shipper.linkState().whenFailure { error in
                        logger.warning("link state not read", metadata: ["peer": "\(shipper.peer)", "error": "\(error)"])
                    }
                    outbox.wakeup(for: shipper.peer).notify()
                } else {
                    outbox.wakeup(for: shipper.peer).notify()
                }
            }
            self.subscriber = RedisSubscriber(
                configuration: redisConfiguration, cluster: redis.clusterRouting, logger: logger,
                onReconnect: {
                    // Messages may have been missed: look at every outbox again.
                    for peer in shippers.keys { outbox.wakeup(for: peer).notify() }
                },
                handler: wake)
        } else {
            self.subscriber = nil
        }
    }

    /// The peers shipped to, sorted.
    public var peers: [String] { shippers.keys.sorted() }

    /// Starts the peer listener and every shipper; returns the listener's
    /// bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let bound = try await server.start([MQTTServer.Listener(host: listen.host, port: listen.port)])
        if let subscriber {
            for peer in shippers.keys {
                try? await subscriber.subscribe(.sharded(ReplicationKey.channel(peer)))
            }
        }
        for shipper in shippers.values { shipper.start() }
        let loop = group.next()
        let task = loop.scheduleRepeatedAsyncTask(
            initialDelay: .zero, delay: configuration.metricsInterval
        ) { [shippers] _ in
            // linkState() refreshes the outbox gauges as it goes.
            EventLoopFuture.whenAllComplete(shippers.values.map { $0.linkState() }, on: loop).map { _ in }
        }
        refresher.withLockedValue { $0 = task }
        logger.info("replication listening", metadata: ["address": "\(bound[0].address)", "peers": "\(peers)"])
        return bound[0].address
    }

    /// Appends `frames` to the outbox for `peer` and wakes its shipper;
    /// succeeds with their ids.
    public func append(_ frames: [Relay_V1_Frame], to peer: String, on loop: any EventLoop) -> EventLoopFuture<[UInt64]> {
        guard shippers[peer] != nil else {
            return loop.makeFailedFuture(ReplicationError(.unknownPeer, "\(peer) is not a peer of \(region)"))
        }
        metrics.appended(frames, to: peer)
        return outbox.append(frames, to: peer, on: loop)
    }

    /// Completes once `peer` has acknowledged frame `id` (sync mirroring),
    /// or fails with ``ReplicationError/Kind/timedOut`` after `timeout`.
    public func waitUntilAcknowledged(peer: String, id: UInt64, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let shipper = shippers[peer] else {
            return loop.makeFailedFuture(ReplicationError(.unknownPeer, "\(peer) is not a peer of \(region)"))
        }
        return shipper.waitUntilAcknowledged(id, timeout: timeout, on: loop)
    }

    /// Every link's state, sorted by peer.
    public func links(on loop: any EventLoop) -> EventLoopFuture<[ReplicationLinkState]> {
        let futures = peers.compactMap { shippers[$0]?.linkState() }
        return EventLoopFuture.whenAllSucceed(futures, on: loop)
    }

    /// Stops the shippers (releasing their leases), then the peer listener
    /// once the batches it is applying are done, then the Pub/Sub connection.
    public func shutdown() async {
        refresher.withLockedValue { task in
            task?.cancel()
            task = nil
        }
        await withTaskGroup(of: Void.self) { tasks in
            for shipper in shippers.values {
                tasks.addTask { await shipper.stop() }
            }
        }
        try? await router.quiesce(on: group.next()).get()
        await server.shutdown()
        if let subscriber {
            // close() joins the subscriber's thread: keep it off the cooperative pool.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    subscriber.close()
                    continuation.resume()
                }
            }
        }
    }
}
