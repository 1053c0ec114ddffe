import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayStore
import RelayTopology

/// The chat relay's side of the replication stream: where users and
/// conversations live, which region a frame goes to, and what a change here
/// mirrors to the standby. ``ChatRouter`` uses it when the deployment has
/// more than one region; ``FrameApplier`` uses it for frames that arrive.
package final class Replicator: Sendable {
    let local: String
    package let authority: RegionAuthority
    let directory: Directory
    let sink: any FrameSink
    package let mode: MirrorMode
    /// How long a sync-mode send waits for the standby before failing.
    let syncTimeout: TimeAmount
    /// Each region's device endpoint, for MQTT 5 server redirects.
    let deviceEndpoints: [String: String]
    let store: ChatStore
    let logger: Logger
    /// This region's `keys.fetch` requests waiting for another region's answer.
    let keyFetches = PendingKeyFetches()
    /// How long queue mirror frames wait for what cancels them in async
    /// mode (``MirrorGather``); zero ships them at once.
    let gatherWindow: TimeAmount
    private let gather = NIOLockedValueBox(MirrorGather())

    init(local: String, authority: RegionAuthority, directory: Directory, sink: any FrameSink, mode: MirrorMode,
         syncTimeout: TimeAmount = .seconds(5), gatherWindow: TimeAmount = .zero, deviceEndpoints: [String: String], store: ChatStore, logger: Logger) {
        self.gatherWindow = gatherWindow
        self.local = local
        self.authority = authority
        self.directory = directory
        self.sink = sink
        self.mode = mode
        self.syncTimeout = syncTimeout
        self.deviceEndpoints = deviceEndpoints
        self.store = store
        self.logger = logger
    }

    package var map: RegionMap { authority.current }

    /// A frame under this region's current term.
    func frame(_ build: (inout Relay_V1_Frame) -> Void) -> Relay_V1_Frame {
        var frame = Relay_V1_Frame()
        frame.term = map.term(of: local)
        build(&frame)
        return frame
    }

    /// Appends frames to each region's outbox; the last id per region.
    @discardableResult
    func ship(_ frames: [String: [Relay_V1_Frame]], on loop: any EventLoop) -> EventLoopFuture<[String: UInt64]> {
        let targets = frames.filter { $0.key != local && !$0.value.isEmpty }.sorted { $0.key < $1.key }
        let appends = targets.map { region, frames in
            sink.append(frames, to: region, on: loop).map { ids in (region, ids.last ?? 0) }
        }
        return EventLoopFuture.whenAllSucceed(appends, on: loop).map { Dictionary(uniqueKeysWithValues: $0) }
    }

    /// Sends `frames` to the mirror of `home`'s devices, if there is one.
    @discardableResult
    func mirror(_ frames: [Relay_V1_Frame], forHome home: String, on loop: any EventLoop) -> EventLoopFuture<[String: UInt64]> {
        guard let target = map.mirrorTarget(forHome: home), target != local else { return loop.makeSucceededFuture([:]) }
        return ship([target: frames], on: loop)
    }

    /// Sends queue mirror frames (statuses and events for single devices,
    /// their acknowledgements, cursors) to the mirror of `home`: in async
    /// mode held for ``gatherWindow`` first, so that a status acknowledged
    /// meanwhile never travels (``MirrorGather``, decision 0033). Completes
    /// once they are held, or appended when not held.
    func mirrorQueues(_ frames: [Relay_V1_Frame], forHome home: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let target = map.mirrorTarget(forHome: home), target != local else { return loop.makeSucceededVoidFuture() }
        return mirrorQueues(frames, to: target, on: loop)
    }

    private func mirrorQueues(_ frames: [Relay_V1_Frame], to target: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !frames.isEmpty else { return loop.makeSucceededVoidFuture() }
        guard mode == .async, gatherWindow > .zero, frames.allSatisfy(MirrorGather.gathers) else {
            return ship([target: frames], on: loop).map { _ in }
        }
        if gather.withLockedValue({ $0.add(frames, for: target) }) {
            loop.scheduleTask(in: gatherWindow) { self.flushMirror(target, attempt: 0, on: loop) }
        }
        return loop.makeSucceededVoidFuture()
    }

    /// Appends what is held for `target`; on failure holds it again and
    /// tries after a growing delay (up to a second).
    private func flushMirror(_ target: String, attempt: Int, on loop: any EventLoop) {
        let frames = gather.withLockedValue { $0.take(target) }
        ship([target: frames], on: loop).whenComplete { result in
            switch result {
            case .success:
                if self.gather.withLockedValue({ $0.shipped(target) }) {
                    loop.scheduleTask(in: self.gatherWindow) { self.flushMirror(target, attempt: 0, on: loop) }
                }
            case .failure(let error):
                self.gather.withLockedValue { $0.failed(frames, for: target) }
                let delay = min(self.gatherWindow * Int64(1 << min(attempt + 1, 10)), .seconds(1))
                self.logger.warning("queue mirror frames not appended; trying again", metadata: [
                    "peer": "\(target)", "frames": "\(frames.count)", "error": "\(error)",
                ])
                loop.scheduleTask(in: delay) { self.flushMirror(target, attempt: attempt + 1, on: loop) }
            }
        }
    }

    /// In sync mode, waits until the standby acknowledged its frames up to the given id.
    /// Only this region's own standby is waited for, and only while it
    /// serves itself: a standby an operator failed over is known to be down,
    /// so mirroring to it degrades to async until it fails back (else no
    /// send could be acknowledged during a failover). A region serving a
    /// failed-over one mirrors back to it asynchronously for the same reason.
    func waitIfSync(_ ids: [String: UInt64], on loop: any EventLoop) -> EventLoopFuture<Void> {
        let map = self.map
        guard mode == .sync, let standby = map.mirrorTarget(forHome: local), map.servesHere(local),
              map.servingRegion(of: standby) == standby
        else { return loop.makeSucceededVoidFuture() }
        let waits = ids.filter { $0.key == standby }.map { sink.waitUntilAcknowledged(peer: $0.key, id: $0.value, timeout: syncTimeout, on: loop) }
        return EventLoopFuture.andAllSucceed(waits, on: loop)
    }

    /// In sync mode, waits until every region serving itself acknowledged
    /// every frame appended for it so far: a barrier after a write whose
    /// frames may go to several regions (a receipt's READ statuses, a group
    /// change's state and events), so that its acknowledgement means it
    /// survives the loss of this region. Regions failed over or fenced are
    /// not waited for (their frames wait for their failback), nor is anyone
    /// while this region does not serve itself.
    func barrierIfSync(on loop: any EventLoop) -> EventLoopFuture<Void> {
        let map = self.map
        guard mode == .sync, map.servesHere(local) else { return loop.makeSucceededVoidFuture() }
        let waits = map.peers.filter { map.servingRegion(of: $0) == $0 }.map { peer in
            sink.lastAppended(peer: peer, on: loop).flatMap { id in
                id == 0 ? loop.makeSucceededVoidFuture() : self.sink.waitUntilAcknowledged(peer: peer, id: id, timeout: self.syncTimeout, on: loop)
            }
        }
        return EventLoopFuture.andAllSucceed(waits, on: loop).flatMapErrorThrowing { error in
            throw ChatError(.unavailable, "the other regions have not confirmed the change (\(error)); retry")
        }
    }

    // MARK: - Homes

    /// Records that `user` lives in `home` (from its token) and tells the
    /// other regions if that is news.
    func recordUser(_ user: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        directory.record(users: [user: home], conversations: [:], on: loop).map { added in
            guard !added.users.isEmpty else { return }
            self.broadcastDirectory(users: added.users, conversations: [:], on: loop)
        }
    }

    /// Records that a new group lives in `home` and tells the other regions.
    func recordConversation(_ conversation: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        directory.record(users: [:], conversations: [conversation: home], on: loop).map { added in
            guard !added.conversations.isEmpty else { return }
            self.broadcastDirectory(users: [:], conversations: added.conversations, on: loop)
        }
    }

    private func broadcastDirectory(users: [String: String], conversations: [String: String], on loop: any EventLoop) {
        let update = frame { f in
            var d = Relay_V1_DirectoryUpdate()
            d.userHomes = users
            d.conversationHomes = conversations
            f.directory = d
        }
        ship(Dictionary(uniqueKeysWithValues: map.peers.map { ($0, [update]) }), on: loop).whenFailure { error in
            self.logger.error("directory update not queued", metadata: ["error": "\(error)"])
        }
    }

    /// The home region of a conversation: a group's creator's, recorded when
    /// it was made; for a 1:1 conversation, the home of its first user (the
    /// id sorts its users), so both sides agree without asking anyone.
    func home(ofConversation conversation: String, on loop: any EventLoop) -> EventLoopFuture<String?> {
        if let id = try? ConversationID(validating: conversation), let (first, _) = id.directUsers {
            return directory.homes(of: [first.rawValue], on: loop).map { $0[first.rawValue] }
        }
        return directory.home(ofConversation: conversation, on: loop)
    }

    // MARK: - Messages

    /// Sends a sequenced message to every region that delivers to one of
    /// `members` (one copy per region, naming its users) and to the mirror
    /// of the conversation's home; returns the members this region delivers
    /// to, and the ids of the mirror frames (for sync mode).
    func fanOut(_ message: Relay_V1_ReplicatedMessage, members: [String], conversationHome: String, on loop: any EventLoop) -> EventLoopFuture<(local: [String], mirrorIDs: [String: UInt64])> {
        directory.homes(of: members, on: loop).flatMap { homes in
            let map = self.map
            let audience = map.audience(of: members, homes: homes)
            var users: [String: Set<String>] = [:]
            for (region, regionUsers) in audience where region != self.local {
                users[region, default: []].formUnion(regionUsers)
            }
            // The mirror of each local user's queues, and of the conversation itself.
            var mirrors: Set<String> = []
            for user in audience[self.local] ?? [] {
                if let home = homes[user], let target = map.mirrorTarget(forHome: home), target != self.local {
                    users[target, default: []].insert(user)
                    mirrors.insert(target)
                }
            }
            if let target = map.mirrorTarget(forHome: conversationHome), target != self.local {
                users[target, default: []].formUnion([])
                mirrors.insert(target)
            }
            var frames: [String: [Relay_V1_Frame]] = [:]
            for (region, regionUsers) in users {
                var copy = message
                copy.users = regionUsers.sorted()
                copy.homeTerms = map.terms(ofHomes: regionUsers.compactMap { homes[$0] })
                frames[region] = [self.frame { $0.message = copy }]
            }
            let mirrorRegions = mirrors
            let localUsers = audience[self.local] ?? []
            return self.ship(frames, on: loop).map { ids in
                (localUsers, ids.filter { mirrorRegions.contains($0.key) })
            }
        }
    }

    // MARK: - Statuses and events

    /// Puts queue entries on the devices of `users` and on `devices` (device
    /// → user), wherever they are served; mirrors what lands here.
    func deliver(_ entries: [[UInt8]], users: [String], devices: [String: String] = [:], except: Set<String> = [], on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !entries.isEmpty, !(users.isEmpty && devices.isEmpty) else { return loop.makeSucceededVoidFuture() }
        let everyone = Array(Set(users).union(devices.values))
        return directory.homes(of: everyone, on: loop).flatMap { homes in
            let map = self.map
            var byRegion: [String: (users: [String], devices: [String: String])] = [:]
            for (region, regionUsers) in map.audience(of: users, homes: homes) {
                byRegion[region, default: ([], [:])].users = regionUsers
            }
            for (device, user) in devices {
                // A device whose user is not in the directory is a device of this region.
                let region = homes[user].map { map.deliveryRegion(of: $0) } ?? self.local
                byRegion[region, default: ([], [:])].devices[device] = user
            }
            var frames: [String: [Relay_V1_Frame]] = [:]
            for (region, audience) in byRegion where region != self.local {
                frames[region] = [self.entriesFrame(entries, users: audience.users, devices: audience.devices, except: except)]
            }
            let remote = self.ship(frames, on: loop).map { _ in }
            guard let here = byRegion[self.local] else { return remote }
            return remote.and(self.deliverHere(entries, users: here.users, devices: here.devices, except: except, homes: homes, on: loop)).map { _ in }
        }
    }

    /// Entries for devices served here: queued, and mirrored per home.
    /// The mirror's frames name the devices (the users' devices as read
    /// here), so that a device's acknowledgement can cancel its entry
    /// while the frame is held (``mirrorQueues(_:forHome:on:)``).
    func deliverHere(_ entries: [[UInt8]], users: [String], devices: [String: String], except: Set<String>, homes: [String: String], mirror: Bool = true, on loop: any EventLoop) -> EventLoopFuture<Void> {
        store.devices(of: users, on: loop).flatMap { byUser in
            var targets = Set(byUser.values.joined()).union(devices.keys)
            targets.subtract(except)
            let queued = self.store.enqueue(targets.sorted().map { ($0, entries) }, on: loop).map { _ in }
            guard mirror else { return queued }
            let map = self.map
            var mirrors: [String: [String: String]] = [:]
            for user in users {
                guard let home = homes[user], map.servesHere(home), let target = map.mirrorTarget(forHome: home) else { continue }
                for device in byUser[user] ?? [] where !except.contains(device) {
                    mirrors[target, default: [:]][device] = user
                }
            }
            for (device, user) in devices where !except.contains(device) {
                let home = homes[user] ?? self.local
                guard map.servesHere(home), let target = map.mirrorTarget(forHome: home) else { continue }
                mirrors[target, default: [:]][device] = user
            }
            let mirrored = mirrors.sorted { $0.key < $1.key }.map { target, devices in
                self.mirrorQueues([self.entriesFrame(entries, users: [], devices: devices, except: [])], to: target, on: loop)
            }
            return queued.and(EventLoopFuture.andAllSucceed(mirrored, on: loop)).map { _ in }
        }
    }

    private func entriesFrame(_ entries: [[UInt8]], users: [String], devices: [String: String], except: Set<String>) -> Relay_V1_Frame {
        frame { f in
            var e = Relay_V1_ReplicatedEntries()
            e.users = users.sorted()
            e.devices = devices
            e.entries = entries.map { Data($0) }
            e.exceptDevices = except.sorted()
            f.entries = e
        }
    }

    // MARK: - Conversations

    /// Sends a conversation's state (after a group change) to the mirror of
    /// its home and to every region delivering to a member, before or after.
    func shareConversation(_ conversation: String, home: String, members: [String: String], formerMembers: [String] = [], on loop: any EventLoop) -> EventLoopFuture<Void> {
        store.conversationMeta(conversation, on: loop).and(directory.homes(of: Array(Set(members.keys).union(formerMembers)), on: loop)).flatMap { meta, homes in
            let map = self.map
            var regions = Set(homes.values.map { map.deliveryRegion(of: $0) })
            if homes.count < Set(members.keys).union(formerMembers).count {
                regions.formUnion(map.peers)  // a member's home is not known here yet
            }
            if let target = map.mirrorTarget(forHome: home) { regions.insert(target) }
            regions.remove(self.local)
            var state = Relay_V1_ConversationState()
            state.conversation = conversation
            state.kind = meta.kind
            state.epoch = meta.epoch
            state.seq = meta.seq
            state.ttlSeconds = meta.ttlSeconds
            state.members = members
            state.home = home
            let frame = self.frame { $0.conversation = state }
            return self.ship(Dictionary(uniqueKeysWithValues: regions.map { ($0, [frame]) }), on: loop).map { _ in }
        }
    }
}
