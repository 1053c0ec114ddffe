import CoreMetrics
import Foundation
import Logging
import Mosquitto
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayOps
import RelayReplication
import RelayStore
import RelayTopology

/// The I/O around ``RegionWatch`` (automatic failover, decision 0018):
/// heartbeats to every peer over the replication path (the links' delay
/// proxies included), the peers' heartbeats as the peer listener receives
/// them, and a tick that performs what the watch decides.
///
/// Each peer gets its own libmosquitto connection (client id
/// `region-<origin>-watch-<peer>-<node>`, the shipper's credentials), so a
/// long batch in flight never delays a heartbeat (``HeartbeatTopic``).
/// Every node of a region heartbeats on its own: the node in the client id
/// keeps two nodes' connections to one peer node from taking each other's
/// session over, and a peer with several nodes is tried node after node. The
/// peer's region states in each PUBACK are merged before its lease grant
/// is counted.
package final class RegionWatcher: Sendable {
    let local: String
    private let watch: NIOLockedValueBox<RegionWatch>
    private let authority: RegionAuthority
    private let outbox: Outbox
    private let addresses: [String: [HostPort]]
    private let nodeID: String
    private let credentials: PeerCredentials
    private let loop: any EventLoop
    private let logger: Logger
    private let started = ContinuousClock.now
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let leaseHandlers = NIOLockedValueBox<[@Sendable (Bool) -> Void]>([])
    private let leaseWas = NIOLockedValueBox(false)
    private let leaseGauge: Gauge
    private let decisions: Counter

    /// A watcher of `local` in `topology` (whose failover is automatic,
    /// with `configuration`), acting on `authority`; `outbox` tells how far
    /// a failed-back region has caught up.
    init(local: String, topology: Topology, configuration: RegionWatch.Configuration, authority: RegionAuthority,
         outbox: Outbox, credentials: PeerCredentials, nodeID: String = UUID().uuidString, loop: any EventLoop,
         logger: Logger) throws {
        var addresses: [String: [HostPort]] = [:]
        for peer in topology.regions.map(\.name) where peer != local {
            let peerAddresses = topology.peerAddresses(from: local, to: peer)
            guard !peerAddresses.isEmpty else {
                throw ReplicationError(.unknownPeer, "no address for \(local) to reach \(peer)")
            }
            addresses[peer] = peerAddresses
        }
        self.nodeID = nodeID
        self.local = local
        self.watch = NIOLockedValueBox(RegionWatch(
            local: local, regions: topology.regions.map(\.name), configuration: configuration, now: 0))
        self.authority = authority
        self.outbox = outbox
        self.addresses = addresses
        self.credentials = credentials
        self.loop = loop
        self.logger = logger
        self.leaseGauge = Gauge(label: "relay_region_lease_held")
        self.decisions = Counter(label: "relay_region_automatic_changes_total")
        leaseGauge.record(0)
    }

    /// Milliseconds since this watcher was made (monotonic).
    private func now() -> Int64 {
        let elapsed = started.duration(to: .now).components
        return elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
    }

    private var configuration: RegionWatch.Configuration { watch.withLockedValue { $0.configuration } }

    /// Whether this region holds its write lease now.
    var holdsLease: Bool {
        let now = now()
        return watch.withLockedValue { $0.holdsLease(now: now) }
    }

    /// `handler` runs when the lease is gained (true) or lost (false).
    func onLeaseChange(_ handler: @escaping @Sendable (Bool) -> Void) {
        leaseHandlers.withLockedValue { $0.append(handler) }
    }

    /// Starts the heartbeats and the tick; writes need the lease from now on.
    package func start() {
        authority.requireLease { [weak self] in self?.holdsLease ?? false }
        var started: [Task<Void, Never>] = addresses.sorted { $0.key < $1.key }.map { peer, addresses in
            Task { await self.heartbeats(to: peer, at: addresses) }
        }
        started.append(Task { await self.ticks() })
        tasks.withLockedValue { $0 = started }
        logger.info("watching the regions", metadata: [
            "unreachable_after_ms": "\(configuration.unreachableAfter)", "lease_ms": "\(configuration.lease)",
            "peers": "\(addresses.keys.sorted())",
        ])
    }

    /// Stops heartbeats and decisions.
    package func stop() {
        for task in tasks.withLockedValue({ $0 }) { task.cancel() }
    }

    // MARK: - Heard here

    /// A peer's heartbeat arrived at the peer listener: its states are
    /// merged and its contacts recorded. Returns whether this region grants
    /// it the lease.
    func heard(_ heartbeat: Relay_V1_Heartbeat, from origin: String) -> Bool {
        if !heartbeat.regions.isEmpty { authority.learn(heartbeat.regions, from: origin, on: loop) }
        var since: [String: Int64] = [:]
        for contact in heartbeat.contacts where !contact.region.isEmpty {
            since[contact.region] = Int64(contact.sinceMs)
        }
        let now = now()
        return watch.withLockedValue { watch in
            watch.heard(from: origin, since: since, now: now)
            return watch.grants(to: origin, now: now)
        }
    }

    // MARK: - Heartbeats

    private func heartbeat(sentAt: Int64) -> [UInt8] {
        var heartbeat = Relay_V1_Heartbeat()
        heartbeat.origin = local
        heartbeat.regions = authority.states()
        let contacts = watch.withLockedValue { $0.contacts(now: sentAt) }
        heartbeat.contacts = contacts.sorted { $0.key < $1.key }.map { region, since in
            var contact = Relay_V1_Contact()
            contact.region = region
            contact.sinceMs = UInt32(clamping: since)
            return contact
        }
        return (try? heartbeat.serializedBytes()) ?? []
    }

    /// Keeps a connection to `peer` (at the first of `addresses` that takes
    /// it, trying the next after a failure) and sends a heartbeat every
    /// interval, each waiting for its PUBACK on its own.
    private func heartbeats(to peer: String, at addresses: [HostPort]) async {
        var next = 0
        let configuration = configuration
        let interval = Duration.milliseconds(configuration.heartbeatInterval)
        let timeout = Duration.milliseconds(configuration.unreachableAfter)
        while !Task.isCancelled {
            do {
                let client = try MosquittoClient(configuration: .init(
                    clientID: "region-\(local)-watch-\(peer)-\(nodeID)", cleanStart: true, protocolVersion: .v5,
                    username: PeerCredentials.username(for: local), password: credentials.password(for: local)))
                defer { client.close() }
                let events = Task {
                    for await event in client.events {
                        if case .disconnected = event { client.close(); return }
                    }
                }
                defer { events.cancel() }
                let address = addresses[next % addresses.count]
                next = (next + 1) % addresses.count
                _ = try await client.connect(host: address.host, port: address.port, keepAlive: 5, timeout: timeout)
                // Connected: the next connection tries this address first again.
                next = (next + addresses.count - 1) % addresses.count
                logger.debug("heartbeats up", metadata: ["peer": "\(peer)"])
                await withDiscardingTaskGroup { group in
                    while client.isLinkUp && !Task.isCancelled {
                        let sentAt = now()
                        let payload = heartbeat(sentAt: sentAt)
                        group.addTask {
                            guard let ack = try? await client.publish(
                                topic: HeartbeatTopic.topic(origin: self.local), payload: payload, qos: 1, timeout: timeout),
                                ack.reasonCode == 0
                            else { return }
                            self.acknowledged(ack, by: peer, sentAt: sentAt)
                        }
                        try? await Task.sleep(for: interval)
                    }
                }
            } catch {
                logger.debug("heartbeats down", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func acknowledged(_ ack: PublishAcknowledgement, by peer: String, sentAt: Int64) {
        let properties = ack.properties.userProperties
        // The peer's view first: a region coming back learns of its failover before its lease counts.
        if let value = properties.first(where: { $0.name == ReplicationBatchCodec.regionsProperty })?.value,
           let states = ReplicationBatchCodec.regions(fromValue: value), !states.isEmpty {
            authority.learn(states, from: peer, on: loop)
        }
        let granted = properties.first(where: { $0.name == HeartbeatTopic.leaseProperty })?.value == "1"
        let now = now()
        watch.withLockedValue { $0.acknowledged(by: peer, sentAt: sentAt, granted: granted, now: now) }
    }

    // MARK: - Deciding

    /// Twice per heartbeat interval: reports lease changes, reads the
    /// outbox depths a failback waits for, and performs the decisions.
    private func ticks() async {
        let period = Duration.milliseconds(max(configuration.heartbeatInterval / 2, 5))
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            let map = authority.current
            let fenced = map.peers.filter { map.state(of: $0).fenced && (map.standbys[$0] ?? nil) == local }
            var depths: [String: UInt64] = [:]
            for region in fenced {
                if let status = try? await outbox.status(peer: region, on: loop).get() { depths[region] = status.depth }
            }
            let now = now()
            let (held, decided) = watch.withLockedValue { watch in
                (watch.holdsLease(now: now), watch.decide(map: authority.current, outboxDepth: depths, now: now))
            }
            leaseChanged(to: held)
            for decision in decided {
                logger.notice("automatic region change", metadata: [
                    "kind": "\(decision.kind)", "region": "\(decision.region)", "term": "\(decision.state.term)",
                    "served_by": "\(decision.state.servedBy)", "fenced": "\(decision.state.fenced)",
                ])
                decisions.increment()
                authority.decide(decision.state, of: decision.region, on: loop)
            }
        }
    }

    private func leaseChanged(to held: Bool) {
        let changed = leaseWas.withLockedValue { was in
            defer { was = held }
            return was != held
        }
        guard changed else { return }
        leaseGauge.record(held ? 1 : 0)
        if held {
            logger.notice("write lease held: a majority of regions answers")
        } else {
            logger.warning("write lease lost: no majority of regions answers; writes are refused until it does")
        }
        for handler in leaseHandlers.withLockedValue({ $0 }) { handler(held) }
    }
}
