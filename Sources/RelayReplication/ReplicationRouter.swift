import Foundation
import Logging
import MQTT
import MQTTServer
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayStore
import SwiftProtobuf

/// The peer listener's meaning of MQTT: region R's shipper publishes
/// batches on `repl/<R>` (QoS 1) and its watcher heartbeats on `hb/<R>`
/// (``HeartbeatTopic``, answered at once); nothing else is allowed.
///
/// | PUBLISH | PUBACK |
/// |---|---|
/// | on a topic other than `repl/<R>` of the connected region R | 0x87 Not authorized |
/// | payload not a batch of R with consecutive ids | 0x99 Payload format invalid |
/// | every frame applied (or applied before) | 0x00 Success |
/// | a frame failed to apply, or Redis failed | 0x80 Unspecified error (the shipper retries) |
///
/// A frame the delegate rejects for good (``FrameRejection``) is set aside
/// as a dead letter (``DeadLetters``), counted in
/// `relay_replication_frames_quarantined_total`, and the batch goes on past
/// it: one poison frame does not stop the link.
///
/// Every SUBSCRIBE is refused with 0x87. Frames with ids at or below the
/// cursor `r:in:<R>` were applied already and are skipped; the rest are
/// applied through the delegate in the order their lanes need
/// (``FrameSchedule``: the frames of one conversation or user in link
/// order, different ones side by side), and the cursor then passes the
/// frames applied without a gap. The batches of one origin are processed one after another
/// on this node, in the order they arrived (a shipper keeps several in
/// flight). A batch that starts past the cursor while the origin still
/// holds the frames in between (an earlier batch was refused) is refused
/// too (0x80), so nothing is stepped over (``InboundPlan``). Every PUBACK carries this region's states as user
/// property `regions`; the batch's own states go to `delegate.learn`.
///
/// Several nodes of a region may receive the same origin's batches (the
/// region's peer endpoint may lead to any node, and a shipper taking a link
/// over may reach another node than the one before): only the node holding
/// the lease `{r:in:<R>}:lease` (``ReplicationKey/inboundLease(_:)``,
/// `inbound_lease.lua`) applies them. It takes the lease as a batch starts
/// (reading the cursor in the same script), renews it every third of its
/// time to live while it applies the batch and with every cursor advance,
/// which is refused once another node holds it, and releases it
/// when no batch of that origin is queued here. Another node's batch is
/// refused (0x80) meanwhile, and the origin ships it again, so a frame is
/// applied by one node, once, in order (decision 0027).
public final class ReplicationRouter: MQTTRouter {
    private let region: String
    private let delegate: any ReplicationDelegate
    private let redis: RedisClient
    private let group: any EventLoopGroup
    private let cursorScript: RedisScript
    private let leaseScript: RedisScript
    private let nodeID: String
    private let leaseMilliseconds: Int64
    private let deadLetters: DeadLetters
    private let metrics: ReplicationMetrics
    private let logger: Logger
    /// Per origin, the end of the last batch queued.
    private let tails = NIOLockedValueBox<[String: EventLoopFuture<Void>]>([:])
    /// Per connection with batches queued: how many, and whether it ended.
    /// A batch whose connection ended is not applied when its turn comes:
    /// its PUBACK has nowhere to go and the origin ships it again, so
    /// applying it would only hold up the new connection's batches (and,
    /// with a window of batches per connection, snowball).
    private let connections = NIOLockedValueBox<[ObjectIdentifier: (queued: Int, ended: Bool)]>([:])
    private let stopping = NIOLockedValueBox(false)

    /// A router for region `region` applying through `delegate`, with its
    /// cursors in `redis`; `group` is the peer listener's. `nodeID` names
    /// this node in the leases on the origins' frames, which last
    /// `leaseTTL` past their last renewal (a node that dies holding one
    /// holds up that origin's link for at most that long).
    public init(region: String, delegate: any ReplicationDelegate, redis: RedisClient, group: any EventLoopGroup,
                metrics: ReplicationMetrics = ReplicationMetrics(), nodeID: String = UUID().uuidString,
                leaseTTL: TimeAmount = .seconds(5), logger: Logger) throws {
        self.region = region
        self.delegate = delegate
        self.redis = redis
        self.group = group
        self.cursorScript = try ScriptLibrary.load("replication_cursor")
        self.leaseScript = try ScriptLibrary.load("inbound_lease")
        self.nodeID = nodeID
        self.leaseMilliseconds = max(1, leaseTTL.nanoseconds / 1_000_000)
        self.deadLetters = DeadLetters(redis: redis)
        self.metrics = metrics
        self.logger = logger
    }

    /// The highest id applied from `origin`.
    public func cursor(origin: String, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        redis.send(RedisCommand("GET", ReplicationKey.inbound(origin)), on: loop).map { reply in
            reply.int.map { UInt64(max(0, $0)) } ?? 0
        }
    }

    /// Stops applying: batches in progress stop before their next frame
    /// (0x80), later ones are refused; completes when none is in progress.
    public func quiesce(on loop: any EventLoop) -> EventLoopFuture<Void> {
        stopping.withLockedValue { $0 = true }
        let pending = tails.withLockedValue { Array($0.values) }
        return EventLoopFuture.andAllComplete(pending, on: loop)
    }

    // MARK: - MQTTRouter

    public func publish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<ReasonCode> {
        acknowledgedPublish(message, from: session).map(\.reasonCode)
    }

    public func acknowledgedPublish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<MQTTPublishAcknowledgement> {
        let origin = session.principal.attributes[PeerAuthenticator.regionAttribute]
        if let heartbeatOrigin = HeartbeatTopic.origin(ofTopic: message.topic) {
            guard let origin, heartbeatOrigin == origin else {
                return .completed(acknowledgement(.notAuthorized, reason: "a region publishes only on hb/<its name>"))
            }
            return .completed(heartbeat(message, from: origin))
        }
        guard let origin, ReplicationBatchCodec.origin(ofTopic: message.topic) == origin else {
            return .completed(acknowledgement(.notAuthorized, reason: "a region publishes only on repl/<its name>"))
        }
        let batch: ReplicationBatchCodec.DecodedBatch
        do {
            batch = try ReplicationBatchCodec.decode(message.payload.readableBytesView, origin: origin)
        } catch {
            logger.warning("invalid replication batch", metadata: ["origin": "\(origin)", "error": "\(error.message)"])
            return .completed(acknowledgement(.payloadFormatInvalid, reason: error.message))
        }
        if !batch.regions.isEmpty {
            delegate.learn(batch.regions, from: origin)
        }
        if batch.frames.isEmpty {
            return .completed(acknowledgement(.success))
        }
        let acknowledged = message.properties.userProperties
            .first { $0.name == ReplicationBatchCodec.acknowledgedProperty }
            .flatMap { UInt64($0.value) }
        // The connection's loop when called on it, as the engine does.
        let loop = group.any()
        return .pending(enqueue(batch, originAcknowledged: acknowledged, from: session, on: loop))
    }

    public func subscribe(_ request: MQTTSubscribeRequest, from session: MQTTSession) -> MQTTSubscribeResult {
        MQTTSubscribeResult(reasonCodes: request.subscriptions.map { _ in .notAuthorized })
    }

    public func unsubscribe(_ topicFilters: [String], from session: MQTTSession) -> [ReasonCode] {
        topicFilters.map { _ in .noSubscriptionExisted }
    }

    public func sessionEnded(_ session: MQTTSession) {
        connections.withLockedValue { connections in
            connections[ObjectIdentifier(session)]?.ended = true
        }
    }

    // MARK: - Applying

    private func acknowledgement(_ code: ReasonCode, reason: String? = nil, lease: Bool? = nil) -> MQTTPublishAcknowledgement {
        var properties = MQTTProperties()
        properties.reasonString = reason
        properties.userProperties = [
            UserProperty(name: ReplicationBatchCodec.regionsProperty, value: ReplicationBatchCodec.regionsValue(delegate.regionStates()))
        ]
        if let lease {
            properties.userProperties.append(UserProperty(name: HeartbeatTopic.leaseProperty, value: lease ? "1" : "0"))
        }
        return MQTTPublishAcknowledgement(reasonCode: code, properties: properties)
    }

    /// A heartbeat (``HeartbeatTopic``): answered at once, with this
    /// region's states and its lease grant.
    private func heartbeat(_ message: MQTTMessage, from origin: String) -> MQTTPublishAcknowledgement {
        let heartbeat: Relay_V1_Heartbeat
        do {
            heartbeat = try Relay_V1_Heartbeat(serializedBytes: Array(message.payload.readableBytesView))
        } catch {
            return acknowledgement(.payloadFormatInvalid, reason: "not a Heartbeat: \(error)")
        }
        guard heartbeat.origin.isEmpty || heartbeat.origin == origin else {
            return acknowledgement(.payloadFormatInvalid, reason: "a heartbeat of \(heartbeat.origin) from \(origin)")
        }
        let granted = delegate.heartbeat(heartbeat, from: origin)
        return acknowledgement(.success, lease: granted)
    }

    /// Runs `batch` after the batches of its origin queued before it.
    private func enqueue(_ batch: ReplicationBatchCodec.DecodedBatch, originAcknowledged: UInt64?, from session: MQTTSession,
                         on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        let connection = ObjectIdentifier(session)
        connections.withLockedValue { $0[connection, default: (0, false)].queued += 1 }
        let done = loop.makePromise(of: Void.self)
        let previous = tails.withLockedValue { tails in
            defer { tails[batch.origin] = done.futureResult }
            return tails[batch.origin]
        }
        let start = previous.map { $0.hop(to: loop) } ?? loop.makeSucceededVoidFuture()
        let result = start.flatMap { () -> EventLoopFuture<MQTTPublishAcknowledgement> in
            if self.connections.withLockedValue({ $0[connection]?.ended ?? false }) {
                return loop.makeSucceededFuture(self.acknowledgement(.unspecifiedError, reason: "the connection closed"))
            }
            return self.apply(batch, originAcknowledged: originAcknowledged, on: loop)
        }
        result.whenComplete { _ in
            // `session` is held until here, so its identifier is not reused meanwhile.
            self.connections.withLockedValue { connections in
                guard let entry = connections[ObjectIdentifier(session)] else { return }
                if entry.queued <= 1 {
                    connections[connection] = nil
                } else {
                    connections[connection]?.queued = entry.queued - 1
                }
            }
            let idle = self.tails.withLockedValue { $0[batch.origin] === done.futureResult }
            // Nothing queued behind: the lease goes before the next batch
            // (which waits for `done`) may take it again.
            let released = idle ? self.releaseLease(origin: batch.origin, on: loop) : loop.makeSucceededVoidFuture()
            released.whenComplete { _ in
                done.succeed(())
                // Forget the tail once nothing is queued behind it.
                self.tails.withLockedValue { tails in
                    if tails[batch.origin] === done.futureResult { tails[batch.origin] = nil }
                }
            }
        }
        return result
    }

    /// Gives up this node's lease on `origin`'s frames (a failure is logged:
    /// the lease then runs out by itself).
    private func releaseLease(origin: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        redis.send(
            leaseScript.command(keys: [ReplicationKey.inbound(origin), ReplicationKey.inboundLease(origin)],
                                arguments: [nodeID, "release"]),
            on: loop
        ).map { _ in }.recover { error in
            self.logger.warning("inbound lease not released; it runs out", metadata: ["origin": "\(origin)", "error": "\(error)"])
        }
    }

    /// Takes or renews this node's lease on `origin`'s frames: the cursor,
    /// or a ``ReplicationError/Kind/busy`` failure while another node holds it.
    private func holdLease(origin: String, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        redis.send(
            leaseScript.command(keys: [ReplicationKey.inbound(origin), ReplicationKey.inboundLease(origin)],
                                arguments: [nodeID, "hold", leaseMilliseconds]),
            on: loop
        ).flatMapThrowing { reply in
            guard let value = reply.int else {
                throw ReplicationError(.redisReply, "inbound_lease answered \(reply)")
            }
            guard value >= 0 else {
                throw ReplicationError(.busy, "another node of this region is applying \(origin)'s frames; retry")
            }
            return UInt64(value)
        }
    }

    private func apply(_ batch: ReplicationBatchCodec.DecodedBatch, originAcknowledged: UInt64?, on loop: any EventLoop) -> EventLoopFuture<MQTTPublishAcknowledgement> {
        let origin = batch.origin
        return holdLease(origin: origin, on: loop).flatMap { (cursor: UInt64) -> EventLoopFuture<Void> in
            let plan = InboundPlan(cursor: cursor, ids: batch.frames.map(\.id), originAcknowledged: originAcknowledged)
            if let gap = plan.gap {
                // An earlier batch of the window failed or is not here: never step over it.
                return loop.makeFailedFuture(ReplicationError(
                    .gap, "frames \(gap.lowerBound)-\(gap.upperBound) not applied yet; ship from \(cursor + 1)"))
            }
            if plan.missing > 0 {
                self.logger.error("replication frames lost before reaching this region", metadata: [
                    "origin": "\(origin)", "after": "\(cursor)", "missing": "\(plan.missing)",
                ])
            }
            // A batch may take longer than the lease (a slow store, a frame
            // waiting on another): renew it while this node works on it, so
            // that only a node that stopped loses it.
            let every = TimeAmount.milliseconds(max(1, self.leaseMilliseconds / 3))
            let renewal = loop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
                self.holdLease(origin: origin, on: loop).whenFailure { error in
                    self.logger.debug("inbound lease not renewed", metadata: ["origin": "\(origin)", "error": "\(error)"])
                }
            }
            return self.applyFrames(batch.frames[plan.skipped...], origin: origin, on: loop).always { _ in renewal.cancel() }
        }.map { _ in
            self.acknowledgement(.success)
        }.flatMapErrorThrowing { error in
            if let error = error as? ReplicationError, error.kind == .gap || error.kind == .busy {
                // A gap follows a batch refused just before (that one was
                // logged); busy: another node applies them (a takeover).
                self.logger.debug("replication batch not applied", metadata: ["origin": "\(origin)", "error": "\(error)"])
                return self.acknowledgement(.unspecifiedError, reason: error.message)
            }
            self.logger.warning("replication batch not applied", metadata: ["origin": "\(origin)", "error": "\(error)"])
            return self.acknowledgement(.unspecifiedError, reason: "not applied; retry")
        }
    }

    /// Applies `frames` in the order their lanes need (``FrameSchedule``):
    /// a frame starts once the earlier frames it waits for are applied, so
    /// frames of different conversations and users go side by side and
    /// their Redis writes share fsyncs; a frame whose predecessor failed is
    /// not applied. The cursor then passes the frames applied without a gap
    /// (never a frame not applied); any failure fails the batch, which the
    /// origin ships again from the cursor (applying a frame twice is
    /// harmless: every apply is idempotent).
    private func applyFrames(_ frames: ArraySlice<ReplicationBatchCodec.DecodedFrame>, origin: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !frames.isEmpty else { return loop.makeSucceededVoidFuture() }
        let frames = Array(frames)
        let schedule = FrameSchedule(frames.map(\.frame.ordering))
        var applied: [EventLoopFuture<Void>] = []
        applied.reserveCapacity(frames.count)
        for (index, frame) in frames.enumerated() {
            let before = schedule.waitsFor[index].map { applied[$0] }
            let start = before.isEmpty ? loop.makeSucceededVoidFuture() : EventLoopFuture.andAllSucceed(before, on: loop)
            applied.append(start.flatMap { self.applyFrame(frame, origin: origin, on: loop) })
        }
        return EventLoopFuture.whenAllComplete(applied, on: loop).flatMap { results in
            let done = results.prefix { if case .success = $0 { true } else { false } }.count
            // The cursor write also renews this node's lease, and fails once
            // another node took it: the batch is then refused, and the new
            // holder goes on from the cursor.
            let cursor = done == 0 ? loop.makeSucceededVoidFuture() : self.redis.send(
                self.cursorScript.command(
                    keys: [ReplicationKey.inbound(origin), ReplicationKey.inboundLease(origin)],
                    arguments: [frames[done - 1].id, self.nodeID, self.leaseMilliseconds]),
                on: loop
            ).flatMapThrowing { reply in
                guard let value = reply.int, value >= 0 else {
                    throw ReplicationError(.busy, "the lease on \(origin)'s frames passed to another node before frame \(frames[done - 1].id)")
                }
            }
            return cursor.flatMapThrowing {
                for result in results { try result.get() }
            }
        }
    }

    /// Applies one frame, or sets it aside as a dead letter when the
    /// delegate rejects it for good.
    private func applyFrame(_ frame: ReplicationBatchCodec.DecodedFrame, origin: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        if stopping.withLockedValue({ $0 }) {
            return loop.makeFailedFuture(ReplicationError(.shutdown, "the peer listener is stopping"))
        }
        return delegate.apply(frame.frame, from: origin, on: loop).map {
            self.metrics.applied(origin)
        }.flatMapError { error in
            guard let rejection = error as? FrameRejection else { return loop.makeFailedFuture(error) }
            // It can never be applied: set aside, and the link goes on.
            self.logger.error("replication frame set aside as a dead letter", metadata: [
                "origin": "\(origin)", "id": "\(frame.id)", "error": "\(rejection)",
            ])
            self.metrics.quarantined(origin)
            let letter = DeadLetters.Letter(
                kind: .frame, source: origin, id: frame.id, error: rejection.description,
                atMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
                body: (try? frame.frame.serializedBytes()) ?? [])
            return self.deadLetters.quarantine(letter, on: loop)
        }
    }
}
