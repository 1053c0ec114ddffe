import Foundation
import Logging
import Mosquitto
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayOps
import RelayStore

/// How a ``Shipper`` paces itself.
public struct ShipperConfiguration: Sendable {
    /// Frames and bytes per batch.
    public var limits = ReplicationBatchCodec.Limits()
    /// Bounds of the window of batches in flight (``ReplicationWindow``).
    public var window = ReplicationWindow.Configuration()
    /// First delay after a failure (connect, publish, refusal).
    public var minimumBackoff: Duration = .milliseconds(100)
    /// Longest delay after repeated failures.
    public var maximumBackoff: Duration = .seconds(2)
    /// Longest wait for CONNACK.
    public var connectTimeout: Duration = .seconds(5)
    /// Longest wait with batches in flight and no PUBACK; then the
    /// connection is dropped.
    public var publishTimeout: Duration = .seconds(2)
    /// MQTT keep-alive, seconds.
    public var keepAlive = 10
    /// Lifetime of the region's lease on the link; renewed every third of it.
    /// Longer than `publishTimeout`, so that a slow batch does not lose it.
    public var leaseTTL: Duration = .seconds(3)
    /// How often an idle shipper looks at the outbox without a wake-up.
    public var idlePoll: Duration = .seconds(1)
    /// How often an idle shipper sends an empty batch (region gossip).
    public var gossipInterval: Duration = .seconds(5)

    /// The defaults.
    public init() {}
}

/// Ships this region's outbox for one peer, in order, over MQTT 5 QoS 1.
///
/// One node of the region ships a link at a time: the holder of the Redis
/// lease `{r:<peer>}:lease`. It connects with libmosquitto as
/// `region-<origin>-to-<peer>` (user `region:<origin>`, password from
/// ``PeerCredentials``), sends an empty batch (region gossip), then keeps
/// several batches in flight: while the ``ReplicationWindow`` (sized to the
/// link's bandwidth-delay product) has room, it reads the frames after the
/// last one shipped and publishes them as one `ReplicationBatch` on
/// `repl/<origin>`; each PUBACK 0x00 advances the acknowledged id in Redis.
/// Batches go out in id order on one connection and the receiver applies
/// them in that order, refusing one that would leave a gap. On any failure
/// (a refusal, a PUBACK timeout, the link) it drops the connection, waits a
/// growing delay and starts again from the acknowledged id, so a restart on
/// either side loses nothing (the receiver skips what it applied already).
///
/// Every node, shipping or not, learns acknowledgements (through
/// ``observeAcknowledged(_:)``, fed by the `r:<peer>` channel) so that
/// ``waitUntilAcknowledged(_:timeout:on:)`` works on any node. A node that
/// does not hold the lease still exchanges region states with the peer
/// every `gossipInterval` (an empty batch on a short connection of its own,
/// client id `region-<origin>-gossip-<peer>-<node>`), so that every node of
/// a region hears its peers, not only the one shipping (decision 0027).
public final class Shipper: Sendable {
    /// This region.
    public let origin: String
    /// The region shipped to.
    public let peer: String
    /// Where to connect, tried in turn: the link's delay proxy, or the
    /// peer listener of each of the peer's nodes.
    public let addresses: [HostPort]
    /// The address the shipper connects to now: it moves to the next of
    /// ``addresses`` when a connection cannot be made.
    public var address: HostPort { addresses[state.withLockedValue { $0.addressIndex } % addresses.count] }

    private let outbox: Outbox
    private let credentials: PeerCredentials
    private let delegate: any ReplicationDelegate
    private let redis: RedisClient
    private let leaseScript: RedisScript
    private let nodeID: String
    private let configuration: ShipperConfiguration
    private let metrics: ReplicationMetrics
    private let loop: any EventLoop
    private let logger: Logger
    /// Woken by appends, acknowledgements elsewhere, disconnections and stop.
    private let wakeup: Wakeup
    /// Woken only by stop: ends a back-off early.
    private let stopped = Wakeup()
    private let state: NIOLockedValueBox<State>
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    private struct Waiter {
        var id: UInt64
        var promise: EventLoopPromise<Void>
    }

    private struct State {
        var stopping = false
        var connected = false
        var shipping = false
        var acknowledged: UInt64 = 0
        var lastShipped: UInt64 = 0
        var lastError: String?
        var client: MosquittoClient?
        /// Counts connections, so that a late PUBACK of an old one is ignored.
        var connection = 0
        /// Why the current connection must be dropped (set by a PUBACK task).
        var failure: ReplicationError?
        var window: ReplicationWindow
        var peakInFlight = 0
        /// Set while the outbox says the link is broken at its cap.
        var broken: OutboxBreak?
        /// The highest id acknowledged by the peer, to write to the outbox,
        /// and whether a write is under way.
        var acknowledgedToRecord: UInt64 = 0
        var recordingAcknowledgement = false
        var nextToken: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        /// Which of ``addresses`` to connect to next.
        var addressIndex = 0
    }

    /// A shipper of `outbox`'s frames for `peer` to the first of
    /// `addresses` that takes a connection (at least one); `loop` runs its
    /// Redis futures. Call ``start()``.
    public init(
        origin: String, peer: String, addresses: [HostPort], outbox: Outbox, credentials: PeerCredentials,
        delegate: any ReplicationDelegate, redis: RedisClient, nodeID: String = UUID().uuidString,
        configuration: ShipperConfiguration = ShipperConfiguration(), metrics: ReplicationMetrics = ReplicationMetrics(),
        loop: any EventLoop, logger: Logger
    ) throws {
        self.origin = origin
        self.peer = peer
        guard !addresses.isEmpty else {
            throw ReplicationError(.unknownPeer, "no address to reach \(peer)")
        }
        self.addresses = addresses
        self.outbox = outbox
        self.credentials = credentials
        self.delegate = delegate
        self.redis = redis
        self.leaseScript = try ScriptLibrary.load("outbox_lease")
        self.nodeID = nodeID
        self.configuration = configuration
        self.metrics = metrics
        self.loop = loop
        var logger = logger
        logger[metadataKey: "peer"] = "\(peer)"
        self.logger = logger
        self.wakeup = outbox.wakeup(for: peer)
        self.state = NIOLockedValueBox(State(window: ReplicationWindow(configuration: configuration.window)))
    }

    /// Starts shipping (in a task of its own). Calling it again does nothing.
    public func start() {
        task.withLockedValue { task in
            guard task == nil else { return }
            task = Task { await self.run() }
        }
    }

    /// Stops: drops the connection, releases the lease, fails the pending
    /// ``waitUntilAcknowledged(_:timeout:on:)`` calls, and returns once
    /// the shipping task has ended.
    public func stop() async {
        let (client, waiters) = state.withLockedValue { state in
            state.stopping = true
            defer { state.waiters = [:] }
            return (state.client, Array(state.waiters.values))
        }
        stopped.notify()
        wakeup.notify()
        client?.close()
        await task.withLockedValue { $0 }?.value
        for waiter in waiters {
            waiter.promise.fail(ReplicationError(.shutdown, "the shipper to \(peer) stopped"))
        }
        metrics.connected(peer, false)
    }

    // MARK: - Acknowledgements

    /// The peer acknowledged up to `id` (learned here or from another node).
    public func observeAcknowledged(_ id: UInt64) {
        let done = state.withLockedValue { state -> [Waiter] in
            guard id > state.acknowledged else { return [] }
            state.acknowledged = id
            let done = state.waiters.filter { $0.value.id <= id }
            for key in done.keys { state.waiters[key] = nil }
            return Array(done.values)
        }
        for waiter in done { waiter.promise.succeed(()) }
    }

    /// Completes once the peer has acknowledged frame `id` (and so every
    /// frame before it), or fails with ``ReplicationError/Kind/timedOut``
    /// after `timeout` (the frame stays in the outbox and is still shipped),
    /// or with ``ReplicationError/Kind/linkBroken`` at once while the link
    /// is broken at its outbox's cap (the frame was discarded).
    public func waitUntilAcknowledged(_ id: UInt64, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        enum Registration { case stopped, acknowledged, broken, waiting(UInt64) }
        let registration = state.withLockedValue { state -> Registration in
            if state.stopping { return .stopped }
            if state.acknowledged >= id { return .acknowledged }
            if state.broken != nil { return .broken }
            state.nextToken += 1
            state.waiters[state.nextToken] = Waiter(id: id, promise: promise)
            return .waiting(state.nextToken)
        }
        switch registration {
        case .stopped:
            promise.fail(ReplicationError(.shutdown, "the shipper to \(peer) stopped"))
        case .acknowledged:
            promise.succeed(())
        case .broken:
            promise.fail(ReplicationError(.linkBroken, "the link to \(peer) is broken at the outbox cap"))
        case .waiting(let token):
            let peer = self.peer
            let timer = loop.scheduleTask(in: timeout) {
                let waiter = self.state.withLockedValue { $0.waiters.removeValue(forKey: token) }
                waiter?.promise.fail(ReplicationError(
                    .timedOut, "\(peer) did not acknowledge frame \(id) within \(timeout.nanoseconds / 1_000_000) ms"))
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            // Another node may ship this link: look at Redis too.
            outbox.acknowledged(peer: peer, on: loop).whenSuccess { self.observeAcknowledged($0) }
        }
        return promise.futureResult
    }

    /// This node's view of the link, with the outbox's depth, bytes and
    /// lag, whether it is broken, and the window.
    public func linkState() -> EventLoopFuture<ReplicationLinkState> {
        let now = outbox.nowMs()
        return outbox.status(peer: peer, on: loop).map { status in
            let (local, newlyBroken) = self.state.withLockedValue { state in
                defer { state.broken = status.broken }
                return (state, state.broken == nil && status.broken != nil)
            }
            if newlyBroken, let broken = status.broken {
                self.logger.error("replication link broken: the outbox reached its cap; frames discarded, nothing shipped until reset", metadata: [
                    "frames": "\(broken.frames)", "bytes": "\(broken.bytes)", "discarded": "\(broken.discarded)",
                    "maximumFrames": "\(self.outbox.cap.maximumFrames)", "maximumBytes": "\(self.outbox.cap.maximumBytes)",
                ])
                self.failWaiters(ReplicationError(.linkBroken, "the link to \(self.peer) is broken at the outbox cap"))
            }
            let link = ReplicationLinkState(
                peer: self.peer, address: self.address.description, connected: local.connected,
                shipping: local.shipping, acknowledged: max(local.acknowledged, status.acknowledged),
                lastShipped: local.lastShipped, frames: status.depth, lagMs: status.lagMs(at: now),
                lastError: local.lastError, bytes: status.bytes, broken: status.broken,
                batchesInFlight: local.window.inFlight.count, peakBatchesInFlight: local.peakInFlight,
                windowBytes: local.window.windowBytes, bandwidthDelayProduct: local.window.bandwidthDelayProduct)
            self.metrics.link(link)
            return link
        }
    }

    private func failWaiters(_ error: ReplicationError) {
        let waiters = state.withLockedValue { state in
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.promise.fail(error) }
    }

    // MARK: - Shipping

    private var isStopping: Bool { state.withLockedValue { $0.stopping } }

    private var renewInterval: Duration { configuration.leaseTTL / 3 }

    private func run() async {
        var backoff = ReconnectBackoff(minimum: configuration.minimumBackoff, maximum: configuration.maximumBackoff)
        let clock = ContinuousClock()
        var nextGossip = clock.now
        while !isStopping {
            let generation = wakeup.generation
            let leader: Bool
            do {
                leader = try await holdLease()
            } catch {
                note(error)
                await stopped.wait(after: stopped.generation, timeout: backoff.next())
                continue
            }
            state.withLockedValue { $0.shipping = leader }
            guard leader else {
                // Another node ships this link; keep this node's waiters informed.
                if let acked = try? await outbox.acknowledged(peer: peer, on: loop).get() {
                    observeAcknowledged(acked)
                }
                if clock.now >= nextGossip {
                    // Until it gets through (a peer starting, a proxy not up
                    // yet), again at the next look rather than a gossip interval on.
                    let exchanged = await gossipAsFollower()
                    nextGossip = clock.now + (exchanged ? configuration.gossipInterval : min(renewInterval, configuration.gossipInterval))
                }
                await wakeup.wait(after: generation, timeout: renewInterval)
                continue
            }
            do {
                try await connectAndShip(backoff: &backoff)
            } catch {
                note(error)
            }
            setConnected(false)
            if isStopping { break }
            await stopped.wait(after: stopped.generation, timeout: backoff.next())
        }
        state.withLockedValue { $0.shipping = false }
        _ = try? await redis.send(
            leaseScript.command(keys: [ReplicationKey.lease(peer)], arguments: [nodeID, "release"]), on: loop
        ).get()
    }

    /// Takes or renews the lease; true when this node holds it.
    private func holdLease() async throws -> Bool {
        let ttl = configuration.leaseTTL.components
        let ms = ttl.seconds * 1000 + ttl.attoseconds / 1_000_000_000_000_000
        let reply = try await redis.send(
            leaseScript.command(keys: [ReplicationKey.lease(peer)], arguments: [nodeID, "hold", max(1, ms)]), on: loop
        ).get()
        return reply.int == 1
    }

    private func note(_ error: any Error) {
        let text = "\(error)"
        let changed = state.withLockedValue { state in
            defer { state.lastError = text }
            return state.lastError != text
        }
        if changed && !isStopping {
            logger.warning("replication link down", metadata: ["error": "\(text)", "address": "\(address)"])
        }
    }

    private func setConnected(_ connected: Bool) {
        state.withLockedValue { state in
            state.connected = connected
            if connected { state.lastError = nil }
        }
        metrics.connected(peer, connected)
    }

    /// One connection: connect, gossip, then keep the window full until
    /// something fails (a refusal, a timeout, the link, the lease).
    private func connectAndShip(backoff: inout ReconnectBackoff) async throws {
        let client = try MosquittoClient(configuration: .init(
            clientID: "region-\(origin)-to-\(peer)", cleanStart: true, protocolVersion: .v5,
            username: PeerCredentials.username(for: origin), password: credentials.password(for: origin)))
        let installed = state.withLockedValue { state in
            guard !state.stopping else { return false }
            state.client = client
            return true
        }
        defer {
            state.withLockedValue { state in
                state.client = nil
                state.window.disconnected()
            }
            client.close()
        }
        guard installed else { return }
        // The single consumer of the client's events: a disconnection closes
        // the client, which fails the PUBACKs still awaited at once.
        let wakeup = self.wakeup
        let watcher = Task {
            for await event in client.events {
                if case .disconnected = event {
                    client.close()
                    wakeup.notify()
                    return
                }
            }
        }
        defer { watcher.cancel() }

        let address = self.address
        do {
            _ = try await client.connect(
                host: address.host, port: address.port, keepAlive: configuration.keepAlive,
                timeout: configuration.connectTimeout)
        } catch MosquittoClientError.refused(let ack) {
            nextAddress()
            throw ReplicationError(.connectRefused, "CONNACK 0x\(String(ack.reasonCode, radix: 16)) \(ack.properties.reasonString ?? "")")
        } catch {
            // That node is down (or unreachable): the next try goes to another.
            nextAddress()
            throw error
        }
        setConnected(true)
        logger.info("replication link up", metadata: ["address": "\(address)"])
        let stored = try await outbox.acknowledged(peer: peer, on: loop).get()
        observeAcknowledged(stored)
        let connection = state.withLockedValue { state in
            state.connection += 1
            state.failure = nil
            state.window.connected(acknowledged: stored)
            return state.connection
        }
        let clock = ContinuousClock()
        var lastRenewal = clock.now
        var lastSent = clock.now
        try await gossip(via: client)
        backoff.reset()

        while !isStopping {
            if lastRenewal.duration(to: clock.now) >= renewInterval {
                guard try await holdLease() else {
                    throw ReplicationError(.shutdown, "another node of \(origin) took the lease for \(peer)")
                }
                lastRenewal = clock.now
            }
            guard client.isLinkUp else { throw ReplicationError(.shutdown, "the connection to \(peer) closed") }
            let generation = wakeup.generation
            let now = DispatchTime.now().uptimeNanoseconds
            let window = state.withLockedValue { state in
                (failure: state.failure, mayShip: state.window.mayShip, after: state.window.shipped,
                 idle: state.window.inFlight.isEmpty, batches: state.window.inFlight.count,
                 stalled: state.window.isStalled(at: now, timeout: Self.nanoseconds(configuration.publishTimeout)))
            }
            if let failure = window.failure { throw failure }
            if window.stalled {
                throw ReplicationError(.timedOut, "no PUBACK from \(peer) for \(configuration.publishTimeout) with \(window.batches) batches in flight")
            }
            if window.mayShip {
                let entries = try await outbox.read(
                    peer: peer, after: window.after, limit: configuration.limits.maximumFrames, on: loop
                ).get()
                if let first = entries.first, first.id != window.after + 1 {
                    // The outbox moved on without this window (an operator reset a broken link).
                    throw ReplicationError(.shutdown, "the outbox to \(peer) continues at \(first.id), after \(window.after) was shipped; starting again")
                }
                if !entries.isEmpty {
                    let count = ReplicationBatchCodec.batchCount(entries, limits: configuration.limits)
                    try send(entries[..<count], via: client, connection: connection)
                    lastSent = clock.now
                    continue
                }
            }
            if window.idle && lastSent.duration(to: clock.now) >= configuration.gossipInterval {
                try await gossip(via: client)
                lastSent = clock.now
                continue
            }
            await wakeup.wait(after: generation, timeout: min(configuration.idlePoll, renewInterval, configuration.publishTimeout / 4))
        }
    }

    /// Moves to the next of ``addresses`` (a no-op with one).
    private func nextAddress() {
        state.withLockedValue { $0.addressIndex = ($0.addressIndex + 1) % addresses.count }
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let parts = duration.components
        return UInt64(clamping: max(0, parts.seconds)) &* 1_000_000_000 &+ UInt64(clamping: max(0, parts.attoseconds / 1_000_000_000))
    }

    /// While another node ships: one exchange of region states with the
    /// peer on a connection of this node's own (failures are only logged:
    /// the next look tries again, at the next address). True when the
    /// peer answered.
    private func gossipAsFollower() async -> Bool {
        let address = self.address
        do {
            let client = try MosquittoClient(configuration: .init(
                clientID: "region-\(origin)-gossip-\(peer)-\(nodeID)", cleanStart: true, protocolVersion: .v5,
                username: PeerCredentials.username(for: origin), password: credentials.password(for: origin)))
            defer { client.close() }
            do {
                _ = try await client.connect(
                    host: address.host, port: address.port, keepAlive: configuration.keepAlive,
                    timeout: configuration.connectTimeout)
            } catch {
                nextAddress()
                throw error
            }
            try await gossip(via: client)
            return true
        } catch {
            logger.debug("region states not exchanged", metadata: ["address": "\(address)", "error": "\(error)"])
            return false
        }
    }

    /// Publishes an empty batch (region gossip) and waits for its PUBACK.
    private func gossip(via client: MosquittoClient) async throws {
        let batch = ReplicationBatchCodec.batch(origin: origin, entries: [], regions: delegate.regionStates())
        let ack = try await client.publish(
            topic: ReplicationBatchCodec.topic(origin: origin), payload: try batch.serializedBytes(), qos: 1,
            timeout: configuration.publishTimeout)
        learnRegions(from: ack)
        guard ack.reasonCode == 0 else {
            throw ReplicationError(
                .refused, "PUBACK 0x\(String(ack.reasonCode, radix: 16)) \(ack.properties.reasonString ?? "")")
        }
    }

    /// Puts `entries` in the window and queues them as one batch; a task
    /// of their own awaits the PUBACK (``acknowledged(_:first:last:connection:)``).
    private func send(_ entries: ArraySlice<OutboxEntry>, via client: MosquittoClient, connection: Int) throws {
        guard let first = entries.first?.id, let last = entries.last?.id else { return }
        let bytes = entries.reduce(0) { $0 + $1.frame.count }
        let batch = ReplicationBatchCodec.batch(origin: origin, entries: entries, regions: delegate.regionStates())
        let payload: [UInt8] = try batch.serializedBytes()
        let now = DispatchTime.now().uptimeNanoseconds
        let trimmed = try state.withLockedValue { state throws(ReplicationError) -> UInt64 in
            if let failure = state.failure { throw failure }
            guard state.connection == connection, state.window.shipped(first: first, last: last, bytes: bytes, at: now) else {
                throw ReplicationError(.shutdown, "the window to \(peer) closed while frames \(first)-\(last) were read")
            }
            state.lastShipped = max(state.lastShipped, last)
            state.peakInFlight = max(state.peakInFlight, state.window.inFlight.count)
            return state.window.acknowledged
        }
        // Queued in id order here, on the shipping task; only the waits run elsewhere.
        let messageID = try client.enqueuePublish(
            topic: ReplicationBatchCodec.topic(origin: origin), payload: payload, qos: 1,
            properties: MosquittoProperties(userProperties: [
                .init(ReplicationBatchCodec.acknowledgedProperty, "\(trimmed)")
            ]))
        // The window watches progress (``ReplicationWindow/isStalled(at:timeout:)``);
        // this bound only ends the wait of a batch deep in a window that kept moving.
        let timeout = configuration.publishTimeout * configuration.window.maximumBatches
        Task {
            let outcome: Result<PublishAcknowledgement, any Error>
            do {
                outcome = .success(try await client.acknowledgement(of: messageID, timeout: timeout))
            } catch {
                outcome = .failure(error)
            }
            await self.acknowledged(outcome, first: first, last: last, connection: connection, client: client)
        }
    }

    /// Feeds a batch's PUBACK (or its absence) to the window and performs
    /// what it says: record the acknowledgement, or drop the connection.
    private func acknowledged(_ outcome: Result<PublishAcknowledgement, any Error>, first: UInt64, last: UInt64,
                              connection: Int, client: MosquittoClient) async {
        if case .success(let ack) = outcome { learnRegions(from: ack) }
        let now = DispatchTime.now().uptimeNanoseconds
        let (action, previous) = state.withLockedValue { state -> (ReplicationWindow.AcknowledgementAction, UInt64) in
            guard state.connection == connection, state.failure == nil else { return (.ignore, 0) }
            let previous = state.window.acknowledged
            switch outcome {
            case .success(let ack) where ack.reasonCode == 0:
                return (state.window.acknowledged(through: last, at: now), previous)
            case .success(let ack):
                return (state.window.refused(
                    through: last,
                    reason: "PUBACK 0x\(String(ack.reasonCode, radix: 16)) for frames \(first)-\(last) \(ack.properties.reasonString ?? "")"),
                    previous)
            case .failure(let error):
                return (state.window.refused(through: last, reason: "frames \(first)-\(last): \(error)"), previous)
            }
        }
        switch action {
        case .ignore:
            return
        case .reconnect(let reason):
            state.withLockedValue { state in
                if state.connection == connection, state.failure == nil {
                    state.failure = ReplicationError(.refused, reason)
                }
            }
            client.close()
            wakeup.notify()
        case .advance(let id):
            wakeup.notify()
            metrics.shipped(peer, count: Int(clamping: id - min(previous, id)))
            // The peer applied it: sync waiters need not wait for the outbox's write.
            observeAcknowledged(id)
            let persist = state.withLockedValue { state -> Bool in
                state.acknowledgedToRecord = max(state.acknowledgedToRecord, id)
                defer { state.recordingAcknowledgement = true }
                return !state.recordingAcknowledgement
            }
            if persist { await recordAcknowledgements() }
        }
    }

    /// Writes the highest acknowledged id to the outbox (which trims it),
    /// one write at a time: PUBACKs arriving meanwhile are folded into the
    /// next write rather than each making its own.
    private func recordAcknowledgements() async {
        while true {
            let id = state.withLockedValue { $0.acknowledgedToRecord }
            do {
                observeAcknowledged(try await outbox.acknowledge(peer: peer, through: id, on: loop).get())
            } catch {
                // The next acknowledgement's write records it.
                logger.warning("acknowledgement not recorded", metadata: ["id": "\(id)", "error": "\(error)"])
            }
            let more = state.withLockedValue { state -> Bool in
                if state.acknowledgedToRecord > id { return true }
                state.recordingAcknowledgement = false
                return false
            }
            if !more { return }
        }
    }

    private func learnRegions(from ack: PublishAcknowledgement) {
        if let value = ack.properties.userProperties.first(where: { $0.name == ReplicationBatchCodec.regionsProperty })?.value,
            let states = ReplicationBatchCodec.regions(fromValue: value), !states.isEmpty {
            delegate.learn(states, from: peer)
        }
    }
}
