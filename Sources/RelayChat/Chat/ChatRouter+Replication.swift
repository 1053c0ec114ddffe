import Foundation
import MQTT
import MQTTServer
import NIOCore
import RelayCore
import RelayStore

/// The chat relay across regions (docs/replication.md): sends go to the
/// region that sequences their conversation, fan-out reaches each region
/// once, statuses find their devices wherever those are served, and frames
/// from other regions are applied here.
extension ChatRouter {
    // MARK: - Sending

    /// Ships a send forwarded to `serving`, the region sequencing its
    /// conversation, and in sync mode `copy` to this region's `standby`;
    /// completes when the outbox has it (and, in sync mode, the standby
    /// confirmed it). Its SEQUENCED status follows from the serving region.
    func forward(_ send: Relay_V1_ForwardedSend, to serving: String, copy: Relay_V1_ForwardedSend?, to standby: String?,
                 replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        var byRegion = [serving: [replicator.frame { $0.forwardedSend = send }]]
        if let copy, let standby {
            byRegion[standby] = [replicator.frame { $0.forwardedSend = copy }]
        }
        return replicator.ship(byRegion, on: loop).flatMap { ids in
            replicator.waitIfSync(ids, on: loop).flatMapErrorThrowing { error in
                throw ChatError(.unavailable, "the standby has not confirmed the send (\(error)); retry with the same client_message_id")
            }
        }
    }

    /// Sequences a send here (a local device's or a forwarded one), fans it
    /// out to every region, tells the sending device SEQUENCED, and in sync
    /// mode waits for the standby.
    ///
    /// With `quietIfDuplicate` (a standby's copy of a forwarded send), a
    /// send stored already changes nothing: the sending region's own frame
    /// came first and was fanned out and answered then.
    ///
    /// `stored`, when given, completes as soon as the send is stored (its
    /// seq given, durable; or with the store's refusal), before the fan-out:
    /// what a forwarded send's frame waits for (see ``applyForwardedSend``).
    func sequenceHere(_ accept: ChatStore.Accept, home: String, replicator: Replicator, quietIfDuplicate: Bool = false,
                      stored: EventLoopPromise<Void>? = nil, on loop: any EventLoop) -> EventLoopFuture<ChatStore.Accepted> {
        // Without the lease another region may be taking this home over: sequence nothing.
        guard replicator.authority.isWritable else {
            let refusal = ChatError(.unavailable, "region \(replicator.local) is cut off from a majority of the regions; retry with the same client_message_id")
            stored?.fail(refusal)
            return loop.makeFailedFuture(refusal)
        }
        var floored = accept
        floored.epochFloor = replicator.map.term(of: home)
        let accept = floored
        // Accept and fan-out of one conversation run one after another, so
        // that other regions' copies of its log receive messages in seq
        // order (a device there could otherwise acknowledge past a message
        // still on its way). Conversations run side by side.
        let sequenced = fanOutChains.run(accept.conversation, on: loop) {
            let accepting = self.store.accept(accept, on: loop)
            if let stored { accepting.map { _ in }.cascade(to: stored) }
            return accepting.flatMap { accepted in
                let after = SendMachine.afterStored(accept, accepted)
                if accepted.duplicate && quietIfDuplicate { return loop.makeSucceededFuture((accepted, after, [String: UInt64]?.none)) }
                // A duplicate fans out again: the first attempt may have died before its frames were queued.
                // A new message is fanned out from what was just stored; a duplicate is read back.
                return self.replicatedFanOutNow(conversation: accept.conversation, seq: accepted.seq, home: home, replicator: replicator, message: after.fanOut, on: loop)
                    .map { (accepted, after, Optional($0)) }
                    .recover { _ in (accepted, after, nil) }  // the sweeper finishes the fan-out
            }
        }
        return sequenced.flatMap { accepted, after, mirrorIDs in
            if accepted.duplicate && quietIfDuplicate { return loop.makeSucceededFuture(accepted) }
            let told = replicator.deliver([QueueEntry.status(Self.bytes(after.sequenced)).bytes], users: [], devices: [accept.device: accept.user], on: loop)
            if !accepted.duplicate { self.metrics.accepted.increment() }
            if let users = after.shareMembership {
                self.store.noteMembership(users: users, conversation: accept.conversation, member: true, on: loop).whenFailure { error in
                    self.logger.warning("presence sharing not recorded", metadata: ["conversation": "\(accept.conversation)", "error": "\(error)"])
                }
            }
            let synced = mirrorIDs.map { replicator.waitIfSync($0, on: loop) }
                ?? (replicator.mode == .sync ? loop.makeFailedFuture(ChatError(.unavailable, "the fan-out did not complete")) : loop.makeSucceededVoidFuture())
            return told.and(synced).map { _ in accepted }.flatMapError { error in
                guard replicator.mode == .sync else { return loop.makeSucceededFuture(accepted) }
                return loop.makeFailedFuture(ChatError(.unavailable, "the standby has not confirmed the send (\(error)); retry with the same client_message_id"))
            }
        }
    }

    /// Marks `seq` for the members' devices served here and sends one copy
    /// to every other region that delivers to a member, and to the mirror.
    ///
    /// Fan-outs of one conversation run one after another: other regions'
    /// copies of the log must receive its messages in seq order, or a device
    /// there could acknowledge past a message that has not arrived yet.
    func replicatedFanOut(conversation: String, seq: UInt64, home: String, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<[String: UInt64]> {
        fanOutChains.run(conversation, on: loop) {
            self.replicatedFanOutNow(conversation: conversation, seq: seq, home: home, replicator: replicator, on: loop)
        }
    }

    private func replicatedFanOutNow(conversation: String, seq: UInt64, home: String, replicator: Replicator,
                                     message known: Relay_V1_ReplicatedMessage? = nil, on loop: any EventLoop) -> EventLoopFuture<[String: UInt64]> {
        let stored = known.map { loop.makeSucceededFuture(Optional($0)) } ?? store.replicatedMessage(conversation: conversation, seq: seq, on: loop)
        return stored.and(store.members(of: conversation, on: loop)).flatMap { message, members in
            guard let message else { return self.store.finishFanout(conversation: conversation, seq: seq, on: loop).map { [:] } }
            // Devices connected here have it at once; the marks follow for the record.
            self.store.localPumps.offer(message, toUsers: members.keys)
            return replicator.fanOut(message, members: Array(members.keys), conversationHome: home, on: loop).flatMap { local, mirrorIDs in
                self.store.devices(of: local, on: loop).flatMap { devices in
                    let targets = devices.values.joined().filter { $0 != message.device }
                    self.metrics.fanOut.record(targets.count)
                    return self.store.markDirty(devices: Array(targets), conversation: conversation, seq: seq, on: loop)
                }.flatMap {
                    self.store.finishFanout(conversation: conversation, seq: seq, on: loop)
                }.map { mirrorIDs }
            }
        }
    }

    /// The frame body of a send `send.lua` just stored, as `replicatedMessage` would read it back.
    static func replicated(_ accept: ChatStore.Accept, _ accepted: ChatStore.Accepted) -> Relay_V1_ReplicatedMessage {
        var m = Relay_V1_ReplicatedMessage()
        m.conversation = accept.conversation
        m.epoch = accepted.epoch
        m.seq = accepted.seq
        m.user = accept.user
        m.device = accept.device
        m.timeMs = accept.nowMilliseconds
        m.ciphertext = Data(accept.ciphertext)
        for (device, ciphertext) in accept.deviceCiphertexts { m.deviceCiphertexts[device] = Data(ciphertext) }
        m.clientMessageID = accept.clientMessageID
        m.replyToSeq = accept.replyTo?.value ?? 0
        m.ttlSeconds = accepted.ttlSeconds
        return m
    }

    // MARK: - Typing

    /// Typing to the members' devices here, and one frame per other region.
    func replicatedTyping(_ event: Relay_V1_TypingEvent, payload: [UInt8], users: [String], replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        replicator.directory.homes(of: users, on: loop).flatMap { homes in
            let audience = replicator.map.audience(homes)
            var frames: [String: [Relay_V1_Frame]] = [:]
            for (region, regionUsers) in audience where region != replicator.local {
                var typing = Relay_V1_ForwardedTyping()
                typing.event = event
                typing.users = regionUsers
                frames[region] = [replicator.frame { $0.typing = typing }]
            }
            self.background.watch(replicator.ship(frames, on: loop), .typing)
            return self.store.devices(of: audience[replicator.local] ?? [], on: loop).flatMap { devices in
                self.store.publish(devices.values.joined().map { (ChatStore.channel(device: $0), payload) }, on: loop)
            }
        }
    }

    /// A 1:1 conversation's two users when this region has no copy of its members yet.
    /// One member for a conversation with oneself (`alice~alice`), which is allowed.
    static func withDirectMembers(_ members: [String: String], conversation: String) -> [String: String] {
        guard members.isEmpty, let users = ConversationID(rawValue: conversation)?.directMembers else { return members }
        var direct: [String: String] = [:]
        for user in users { direct[user.rawValue] = "member" }
        return direct
    }

    // MARK: - Applying frames

    /// Applies one frame from `origin`; idempotent. Frames from a region
    /// known to be failed over, or written under an older term, are refused
    /// (counted, not applied), except forwarded sends: a device's request to
    /// sequence, which this region decides as it decides a local send.
    func apply(_ frame: Relay_V1_Frame, from origin: String, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let origins = replicator.map.state(of: origin)
        if case .region(let state) = frame.body {
            replicator.authority.learn([state], from: origin, on: loop)
            return loop.makeSucceededVoidFuture()
        }
        let current = frame.term >= origins.term && origins.servedBy == origin && !origins.fenced
        // A failed-over region passes on the forwarded sends (and read receipts)
        // that waited in other regions' outboxes for it (acknowledged to their
        // devices while it was down): they are sequenced here only if this region
        // serves the conversation's home, once per device and client message id.
        // Refusing them lost every such send of a drill (docs/replication.md).
        guard current || frame.isDeviceRequest else {
            replicationMetrics.refused(origin: origin)
            logger.warning("stale frame refused", metadata: ["origin": "\(origin)", "term": "\(frame.term)", "known_term": "\(origins.term)"])
            return loop.makeSucceededVoidFuture()
        }
        switch frame.body {
        case .message(let message):
            return applyMessage(message, from: origin, replicator: replicator, on: loop)
        case .forwardedSend(let forwarded):
            return applyForwardedSend(forwarded, replicator: replicator, on: loop)
        case .entries(let entries):
            let everyone = Array(Set(entries.users).union(entries.devices.values))
            return replicator.directory.homes(of: everyone, on: loop).flatMap { homes in
                replicator.deliverHere(entries.entries.map { Array($0) }, users: entries.users, devices: entries.devices,
                                       except: Set(entries.exceptDevices), homes: homes, on: loop)
            }
        case .receipt(let receipt):
            return applyReceipt(receipt, replicator: replicator, on: loop)
        case .directory(let update):
            return replicator.directory.record(users: update.userHomes, conversations: update.conversationHomes, on: loop).map { _ in }
        case .cursor(let cursor):
            return store.acknowledge(device: cursor.device, conversation: cursor.conversation, seq: cursor.seq, on: loop)
        case .queueAck(let ack):
            return store.acknowledge(device: ack.device, entry: Array(ack.entry), on: loop)
        case .device(let update):
            return store.applyDevice(user: update.user, device: update.device, removed: update.removed, on: loop)
        case .conversation(let state):
            return store.applyConversationState(state, on: loop).flatMap {
                self.store.noteMembership(users: Array(state.members.keys), conversation: state.conversation, member: true, on: loop)
            }.flatMap {
                state.home.isEmpty ? loop.makeSucceededVoidFuture()
                    : replicator.directory.record(users: [:], conversations: [state.conversation: state.home], on: loop).map { _ in }
            }
        case .typing(let typing):
            let payload = Array("t".utf8) + Self.bytes(typing.event)
            return store.devices(of: typing.users, on: loop).flatMap { devices in
                self.store.publish(devices.values.joined().map { (ChatStore.channel(device: $0), payload) }, on: loop)
            }
        case .presence(let presence):
            return store.applyRemotePresence(presence, from: origin, until: Self.nowMilliseconds() + Self.presenceLifetime, on: loop).flatMap {
                self.store.publish(channel: Self.presenceChannel(presence.user), payload: Self.bytes(presence), on: loop).map { _ in }
            }
        case .privacy(let update):
            return applyPrivacy(update, on: loop)
        case .keysRequest(let request):
            return answerKeys(request, to: origin, replicator: replicator, on: loop)
        case .keysAnswer(let answer):
            applyKeysAnswer(answer, from: origin, replicator: replicator)
            return loop.makeSucceededVoidFuture()
        case .pushRegistration(let update):
            return applyPushRegistration(update, on: loop)
        case .keysMirror(let mirror):
            return applyKeysMirror(mirror, on: loop)
        case .region, .none:
            return loop.makeSucceededVoidFuture()
        }
    }

    private func applyMessage(_ message: Relay_V1_ReplicatedMessage, from origin: String, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        store.applyMessage(message, on: loop).flatMap { outcome in
            guard case .applied(let rewound, let created) = outcome else {
                self.replicationMetrics.refused(origin: origin)
                self.logger.warning("message of an older epoch refused", metadata: [
                    "conversation": "\(message.conversation)", "epoch": "\(message.epoch)", "seq": "\(message.seq)",
                ])
                return loop.makeSucceededVoidFuture()
            }
            if created {
                // Presence is shared by conversation: this region now knows these users share one.
                let users = Array(Self.withDirectMembers([:], conversation: message.conversation).keys) + message.users
                self.background.retry(.membership, on: loop, metadata: ["conversation": "\(message.conversation)"]) {
                    self.store.noteMembership(users: Array(Set(users)), conversation: message.conversation, member: true, on: loop)
                }
            }
            // After a rewind the pumps read again from the moved cursors; else devices connected here have it at once.
            if !rewound { self.store.localPumps.offer(message, toUsers: message.users) }
            return self.store.devices(of: message.users, on: loop).flatMap { devices in
                let targets = Array(devices.values.joined().filter { $0 != message.device })
                let rewind = rewound
                    ? self.store.rewind(devices: targets, conversation: message.conversation, to: message.seq, on: loop).map {
                        self.store.localPumps.rewind(message.conversation, to: message.seq, devices: targets)
                    }
                    : loop.makeSucceededVoidFuture()
                return rewind.flatMap {
                    self.store.markDirty(devices: targets, conversation: message.conversation, seq: message.seq, on: loop)
                }
            }.flatMap {
                // Users this region serves: their queues changed, so their mirror hears of it.
                // Users whose home moved after the sender shipped (e.g. a failback fenced it):
                // on to the region that delivers to them now (RegionMap.onwardTarget).
                replicator.directory.homes(of: message.users, on: loop).flatMap { homes in
                    let map = replicator.map
                    var byTarget: [String: [String]] = [:]
                    for user in message.users {
                        guard let home = homes[user],
                              let target = map.onwardTarget(forHome: home, senderTerm: message.homeTerms[home], origin: origin)
                        else { continue }
                        byTarget[target, default: []].append(user)
                    }
                    var frames: [String: [Relay_V1_Frame]] = [:]
                    for (target, users) in byTarget {
                        var copy = message
                        copy.users = users.sorted()
                        copy.homeTerms = map.terms(ofHomes: users.compactMap { homes[$0] })
                        frames[target] = [replicator.frame { $0.message = copy }]
                    }
                    return replicator.ship(frames, on: loop).map { _ in }
                }
            }
        }
    }

    private func applyForwardedSend(_ forwarded: Relay_V1_ForwardedSend, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        replicator.home(ofConversation: forwarded.conversation, on: loop).flatMap { home in
            let serving = home.flatMap { replicator.map.servingRegion(of: $0) }
            if home != nil, serving == replicator.local, !replicator.authority.isWritable, let parked = self.parked {
                // Served here but without the write lease (just restarted, or cut off): the
                // device has its PUBACK already, so the send waits here instead of being refused.
                return parked.park(forwarded, because: "this region does not hold its write lease yet", on: loop)
            }
            if let home, serving == replicator.local {
                // Checked again here: the sending region did, but what a peer sends is validated before use.
                let accept: ChatStore.Accept
                do throws(ChatError) {
                    let peer = try Self.checkConversation(forwarded.conversation, user: forwarded.user)
                    let send = try Self.checkSend(forwarded.send, limits: self.configuration.sendLimits)
                    accept = ChatStore.Accept(
                        conversation: forwarded.conversation, user: forwarded.user, device: forwarded.device, send: send,
                        directPeer: peer, nowMilliseconds: Self.nowMilliseconds()
                    )
                } catch {
                    return self.refuseForwarded(forwarded, error, replicator: replicator, on: loop)
                }
                // Async mode: the frame waits until the send is stored (durable, its seq given),
                // not for its fan-out and statuses: those go on behind it (the pending set lets
                // the sweeper finish a fan-out a crash interrupted), so a link carrying forwarded
                // sends is not held by each one's whole fan-out, and sends of different
                // conversations are fanned out side by side. Sync mode: the frame also waits for
                // this region's standby, so that the sending region keeps the frame (and passes
                // it on again) if this region is lost before its standby has the message.
                // A refusal decides the frame either way.
                let stored = loop.makePromise(of: Void.self)
                let sequenced = self.sequenceHere(accept, home: home, replicator: replicator, quietIfDuplicate: forwarded.standbyCopy,
                                                  stored: stored, on: loop)
                let awaited = replicator.mode == .sync ? sequenced.map { _ in } : stored.futureResult
                let decided = awaited.flatMapError { error -> EventLoopFuture<Void> in
                    let refusal = ChatError(redis: error)
                    guard refusal.code != .unavailable || replicator.mode == .sync else {
                        return loop.makeFailedFuture(error)  // the store is down: not applied, the frame comes again
                    }
                    return self.refuseForwarded(forwarded, refusal, replicator: replicator, on: loop)
                }
                if replicator.mode != .sync {
                    stored.futureResult.whenSuccess {
                        // Stored, then the fan-out or SEQUENCED failed: the sweeper finishes the
                        // fan-out; the device had its PUBACK at its region.
                        self.background.watch(sequenced, .forwardedFanOut, metadata: ["conversation": "\(forwarded.conversation)"])
                    }
                }
                return decided
            }
            guard home != nil else {
                guard !forwarded.standbyCopy else {
                    // The sending region's own frame went to the home; this copy has nowhere to go.
                    self.logger.warning("a standby copy of a forwarded send for a conversation unknown here is dropped", metadata: [
                        "conversation": "\(forwarded.conversation)", "device": "\(forwarded.device)",
                    ])
                    return loop.makeSucceededVoidFuture()
                }
                let refusal = ChatError(.notFound, "conversation \(forwarded.conversation) is not known in region \(replicator.local)")
                return self.refuseForwarded(forwarded, refusal, replicator: replicator, on: loop)
            }
            // Not served here (any more): on to the region that serves it now.
            guard let target = serving else {
                // Fenced while failing back: kept until the home serves again (refusing the
                // frame would stop the link behind it, and failback waits for that link).
                guard let parked = self.parked else {
                    return loop.makeFailedFuture(ChatError(.unavailable, "\(home ?? "the home") of \(forwarded.conversation) is fenced; retry"))
                }
                return parked.park(forwarded, because: "its home is fenced", on: loop)
            }
            return replicator.ship([target: [replicator.frame { $0.forwardedSend = forwarded }]], on: loop).map { _ in }
        }
    }

    /// Regions that were failed over to another (`changed`, read in `map`):
    /// the forwarded sends and read receipts this region queued for them,
    /// acknowledged to their devices and waiting in the outbox to a region
    /// that is down, go to the
    /// region serving it now (or are sequenced here, when that is this
    /// region), so they do not wait for the failed region to come back. The
    /// frames stay in the outbox: should that region return, it passes them
    /// on too, and dedup by device and client message id absorbs the copy.
    func rerouteForwardedSends(changed: [String], map: RegionMap, on loop: any EventLoop) {
        guard let replicator else { return }
        for region in changed where region != replicator.local {
            guard let serving = map.servingRegion(of: region), serving != region else { continue }
            rerouteForwardedSends(queuedFor: region, after: 0, replicator: replicator, on: loop).whenFailure { error in
                // The frames are still in the outbox: the failed region passes them on when it returns.
                self.logger.warning("forwarded sends for a failed-over region not rerouted", metadata: [
                    "region": "\(region)", "error": "\(error)",
                ])
            }
        }
    }

    private func rerouteForwardedSends(queuedFor region: String, after: UInt64, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let page = 512
        return replicator.sink.pending(peer: region, after: after, limit: page, on: loop).flatMap { entries in
            var requests: [Relay_V1_Frame] = []
            for entry in entries {
                guard var frame = try? Relay_V1_Frame(serializedBytes: entry.frame), frame.isDeviceRequest else { continue }
                if case .forwardedSend(var forwarded) = frame.body {
                    // Quiet if the failed region sequenced it before it went down (its mirror has it).
                    forwarded.standbyCopy = true
                    frame.forwardedSend = forwarded
                }
                requests.append(frame)
            }
            if !requests.isEmpty {
                self.logger.notice("forwarded sends and receipts for a failed-over region rerouted", metadata: [
                    "region": "\(region)", "requests": "\(requests.count)",
                ])
            }
            // One after another, in outbox order: requests of one conversation keep their order.
            let applied = requests.reduce(loop.makeSucceededVoidFuture()) { previous, frame in
                previous.flatMap {
                    switch frame.body {
                    case .forwardedSend(let forwarded): return self.applyForwardedSend(forwarded, replicator: replicator, on: loop)
                    case .receipt(let receipt): return self.applyReceipt(receipt, replicator: replicator, on: loop)
                    default: return loop.makeSucceededVoidFuture()
                    }
                }
            }
            guard entries.count == page, let last = entries.last?.id else { return applied }
            return applied.flatMap { self.rerouteForwardedSends(queuedFor: region, after: last, replicator: replicator, on: loop) }
        }
    }

    /// Applies parked forwarded sends whose conversation's home is served again.
    func drainParked(on loop: any EventLoop) {
        guard let parked, let replicator else { return }
        parked.drain(
            isServed: { forwarded in
                replicator.home(ofConversation: forwarded.conversation, on: loop).map { home in
                    guard let serving = home.flatMap({ replicator.map.servingRegion(of: $0) }) else { return false }
                    return serving != replicator.local || replicator.authority.isWritable
                }
            },
            apply: { self.applyForwardedSend($0, replicator: replicator, on: loop) },
            on: loop
        )
    }

    /// Tells the device of a forwarded send that it was refused.
    private func refuseForwarded(_ forwarded: Relay_V1_ForwardedSend, _ refusal: ChatError, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        metrics.refused(refusal.code.rawValue)
        let status = refusal.refusedStatus(conversation: forwarded.conversation, clientMessageID: forwarded.send.clientMessageID)
        return replicator.deliver([QueueEntry.status(Self.bytes(status)).bytes], users: [], devices: [forwarded.device: forwarded.user], on: loop)
    }

    private func applyReceipt(_ forwarded: Relay_V1_ForwardedReceipt, replicator: Replicator, on loop: any EventLoop) -> EventLoopFuture<Void> {
        replicator.home(ofConversation: forwarded.conversation, on: loop).flatMap { home in
            let serving = home.flatMap { replicator.map.servingRegion(of: $0) }
            guard serving == replicator.local else {
                guard home != nil else { return loop.makeSucceededVoidFuture() }  // unknown conversation: nothing to mark
                guard let target = serving else {
                    return loop.makeFailedFuture(ChatError(.unavailable, "the home of \(forwarded.conversation) is fenced; retry"))
                }
                return replicator.ship([target: [replicator.frame { $0.receipt = forwarded }]], on: loop).map { _ in }
            }
            guard let seq = Seq(forwarded.receipt.readUpToSeq) else {
                return loop.makeFailedFuture(ChatError(.badRequest, "read_up_to_seq \(forwarded.receipt.readUpToSeq) is out of range"))
            }
            // The READ is decided before the next frame applies: a privacy change the
            // reader's region sent after this receipt cannot overtake it.
            return self.store.markRead(conversation: forwarded.conversation, user: forwarded.user, seq: seq, on: loop).flatMap { advanced in
                guard advanced else { return loop.makeSucceededVoidFuture() }
                return self.announceRead(conversation: forwarded.conversation, reader: forwarded.user, epoch: forwarded.receipt.epoch, seq: seq.value, on: loop)
            }.flatMapError { error in
                // Not a member, or past the latest: nothing to announce. The store
                // down: not applied, and the frame comes again.
                if let refusal = error as? ChatError, refusal.isPermanent { return loop.makeSucceededVoidFuture() }
                return loop.makeFailedFuture(error)
            }
        }
    }
}

extension ChatStore.Accept {
    /// The send as a `Send` envelope again, for a `ForwardedSend`.
    var wire: Relay_V1_Send {
        var send = Relay_V1_Send()
        send.clientMessageID = clientMessageID
        send.ciphertext = Data(ciphertext)
        for (device, ciphertext) in deviceCiphertexts { send.deviceCiphertexts[device] = Data(ciphertext) }
        send.replyToSeq = replyTo?.value ?? 0
        send.ttlSeconds = ttlSeconds
        return send
    }
}

extension Relay_V1_Frame {
    /// Whether the frame is a device's request that only the region serving
    /// the conversation's home decides: a `ForwardedSend` or a
    /// `ForwardedReceipt`. Such a frame is applied whatever its origin's
    /// state, and rerouted when the region it waits for is failed over.
    var isDeviceRequest: Bool {
        switch body {
        case .forwardedSend, .receipt: return true
        default: return false
        }
    }
}
