/// How the regions of a deployment watch each other, and when they fail a
/// region over or back without an operator (docs/replication.md,
/// "Automatic failover"; decision 0018). Pure: the caller feeds it what the
/// heartbeats saw, with the time, and performs what it decides.
///
/// Every region sends every peer a heartbeat each `heartbeatInterval`
/// (over the replication link's path, through the same delay proxies). A
/// heartbeat carries, for every region, how long ago the sender last had
/// contact with it; the peer acknowledges it. Contact with a region is a
/// heartbeat received from it or an acknowledgement received from it.
///
/// **Lease.** A region may accept writes only while it holds a lease: for
/// a majority of the regions (itself included), a heartbeat it sent less
/// than `lease` ago was acknowledged with a grant. A region cut off from
/// the majority stops writing within `lease`. A peer grants no lease to a
/// region it held unreachable in the last `unreachableAfter`: by then any
/// failover decided with its vote has reached it (the standby's heartbeats
/// carry the regions' states), and the region returning learns of it from
/// the same acknowledgements and heartbeats before it may write.
///
/// **Failover.** The standby S of region A promotes itself for A when S has
/// had no contact with A for `unreachableAfter`, a majority of the regions
/// (S included) report the same in reports younger than `voteFreshness`,
/// and S holds its lease. A's lease, renewed at the latest by a heartbeat
/// some peer received when it last had contact with A, ran out
/// `unreachableAfter - lease` before that: two regions never sequence A's
/// conversations at once, with no synchronised clocks (each side measures
/// its own durations). This holds while a one-way delay stays under
/// `(unreachableAfter - voteFreshness - heartbeatInterval) / 2`, 5/16 of
/// `unreachableAfter` (625 ms at the defaults).
///
/// **Failback.** When A has been in contact with S again for
/// `failbackAfter` and its failback is automatic, S fences A, waits until
/// its outbox to A is empty, then lets A serve itself again. "Again" means
/// a spell of contact that began after S saw itself serving A: a region
/// moved by an operator while S was still in contact with it (a planned
/// `relayctl failover`, or a kill followed at once by one) is not handed
/// back on the strength of the contact from before the move. A region whose
/// failback is manual is left to `relayctl failback`, fence and resume.
public struct RegionWatch: Sendable {
    /// Timings, in milliseconds, and which regions fail back by themselves.
    public struct Configuration: Sendable, Equatable {
        /// How long without contact before a region is reported unreachable.
        public var unreachableAfter: Int64
        /// How long an acknowledged heartbeat keeps the sender's lease;
        /// shorter than `unreachableAfter` (the difference is the margin for
        /// a write checked just before the lease ran out).
        public var lease: Int64
        /// How often heartbeats go to each peer.
        public var heartbeatInterval: Int64
        /// How old a peer's report may be to count as a vote.
        public var voteFreshness: Int64
        /// Contact kept this long with a failed-over region before its
        /// automatic failback begins.
        public var failbackAfter: Int64
        /// Regions failed back by hand only (`relayctl failback`).
        public var manualFailback: Set<String>

        /// Timings derived from `unreachableAfter` (default 2 s): the lease
        /// is three quarters of it, heartbeats go eight times as often, a
        /// vote holds for two heartbeats, and a failback starts after as
        /// long again of contact.
        public init(unreachableAfter: Int64 = 2000, manualFailback: Set<String> = []) {
            self.unreachableAfter = max(unreachableAfter, 100)
            self.lease = self.unreachableAfter * 3 / 4
            self.heartbeatInterval = max(self.unreachableAfter / 8, 10)
            self.voteFreshness = self.heartbeatInterval * 2
            self.failbackAfter = self.unreachableAfter
            self.manualFailback = manualFailback
        }
    }

    /// A change of region authority decided here, to merge into the map.
    public struct Decision: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// The region's standby (this region) serves it.
            case failover
            /// The region is fenced while this region's frames drain to it.
            case failbackFence
            /// The region serves itself again.
            case failbackResume
        }
        public var kind: Kind
        public var region: String
        public var state: RegionMap.State
    }

    /// A peer's report of its own contacts.
    private struct Report: Sendable {
        /// When it arrived here.
        var receivedAt: Int64
        /// Region → how long before sending the peer had had no contact with it.
        var since: [String: Int64]
    }

    /// This region.
    public let local: String
    /// Every region of the deployment, this one included.
    public let regions: [String]
    /// The timings.
    public let configuration: Configuration

    /// Last contact with each peer.
    private var lastContact: [String: Int64]
    /// When the current unbroken contact with each peer began.
    private var contactSince: [String: Int64]
    /// Per peer, the send time of the latest heartbeat acknowledged with a grant.
    private var grantedSentAt: [String: Int64]
    /// Per peer, when this region's latest spell of holding it unreachable ended.
    private var suspectedUntil: [String: Int64]
    /// Each peer's latest report.
    private var reports: [String: Report] = [:]
    /// Per region this one serves for its standby duty, when ``decide(map:outboxDepth:now:)``
    /// first saw it so.
    private var servingSince: [String: Int64] = [:]

    /// The watch of `local` among `regions`, started at `now`: peers count
    /// as in contact at start (a region just started does not suspect
    /// everyone); the lease comes with the first grants.
    public init(local: String, regions: [String], configuration: Configuration = Configuration(), now: Int64) {
        self.local = local
        self.regions = Array(Set(regions + [local])).sorted()
        self.configuration = configuration
        let peers = self.regions.filter { $0 != local }
        lastContact = Dictionary(uniqueKeysWithValues: peers.map { ($0, now) })
        contactSince = [:]
        grantedSentAt = [:]
        suspectedUntil = [:]
    }

    /// The peers, sorted.
    public var peers: [String] { regions.filter { $0 != local } }

    /// How many regions make a majority.
    public var majority: Int { regions.count / 2 + 1 }

    // MARK: - Events

    /// `peer` acknowledged a heartbeat this region sent at `sentAt`,
    /// granting the lease or not (``grants(to:now:)`` on its side).
    public mutating func acknowledged(by peer: String, sentAt: Int64, granted: Bool = true, now: Int64) {
        guard lastContact[peer] != nil else { return }
        if granted { grantedSentAt[peer] = max(grantedSentAt[peer] ?? sentAt, sentAt) }
        contact(peer, now: now)
    }

    /// A heartbeat from `peer` arrived, reporting for each region how many
    /// milliseconds the peer had gone without contact with it.
    public mutating func heard(from peer: String, since: [String: Int64], now: Int64) {
        guard lastContact[peer] != nil else { return }
        reports[peer] = Report(receivedAt: now, since: since.filter { regions.contains($0.key) })
        contact(peer, now: now)
    }

    private mutating func contact(_ peer: String, now: Int64) {
        let last = lastContact[peer] ?? now
        if now - last >= configuration.unreachableAfter { suspectedUntil[peer] = now }
        if contactSince[peer] == nil || now - last >= configuration.unreachableAfter / 2 {
            contactSince[peer] = now
        }
        lastContact[peer] = max(last, now)
    }

    // MARK: - Queries

    /// For this region's heartbeat: per region, milliseconds without contact (0 for itself).
    public func contacts(now: Int64) -> [String: Int64] {
        var since = lastContact.mapValues { max(0, now - $0) }
        since[local] = 0
        return since
    }

    /// Whether this region has had no contact with `region` for `unreachableAfter`.
    public func suspects(_ region: String, now: Int64) -> Bool {
        guard let last = lastContact[region] else { return false }
        return now - last >= configuration.unreachableAfter
    }

    /// The regions that hold `region` unreachable now: this one from its
    /// own contacts, a peer from a report younger than `unreachableAfter`.
    public func voters(against region: String, now: Int64) -> [String] {
        var voters: [String] = []
        if region != local && suspects(region, now: now) { voters.append(local) }
        for (peer, report) in reports where peer != region {
            guard now - report.receivedAt < configuration.voteFreshness,
                  let since = report.since[region], since >= configuration.unreachableAfter
            else { continue }
            voters.append(peer)
        }
        return voters.sorted()
    }

    /// Whether this region may accept writes: a majority (itself
    /// included) granted it the lease for a heartbeat sent less than
    /// `lease` ago.
    public func holdsLease(now: Int64) -> Bool {
        let fresh = grantedSentAt.values.filter { now - $0 < configuration.lease }.count
        return 1 + fresh >= majority
    }

    /// Whether this region grants `peer` the lease with its acknowledgement:
    /// not while it holds `peer` unreachable, nor within `unreachableAfter`
    /// of doing so.
    public func grants(to peer: String, now: Int64) -> Bool {
        guard !suspects(peer, now: now) else { return false }
        guard let until = suspectedUntil[peer] else { return true }
        return now - until >= configuration.unreachableAfter
    }

    // MARK: - Deciding

    /// What this region should change now, given `map` (its current view)
    /// and the depth of its outbox to each peer: at most one decision per
    /// region, only for regions whose standby this region is, and only
    /// while it may write.
    public mutating func decide(map: RegionMap, outboxDepth: [String: UInt64], now: Int64) -> [Decision] {
        for region in peers {
            if map.state(of: region).servedBy == local {
                servingSince[region] = servingSince[region] ?? now
            } else {
                servingSince[region] = nil
            }
        }
        guard holdsLease(now: now) else { return [] }
        var decisions: [Decision] = []
        for region in peers where (map.standbys[region] ?? nil) == local {
            let state = map.state(of: region)
            if state.servedBy == region && !state.fenced {
                // A region not serving itself (failed over, failing back) takes over no other.
                if map.servesHere(local), voters(against: region, now: now).count >= majority, let next = map.failover(region) {
                    decisions.append(Decision(kind: .failover, region: region, state: next))
                }
            } else if state.servedBy == local && !state.fenced {
                guard !configuration.manualFailback.contains(region), !suspects(region, now: now),
                      let since = contactSince[region], now - since >= configuration.failbackAfter,
                      let serving = servingSince[region], since >= serving,
                      let next = map.failbackFence(region)
                else { continue }
                decisions.append(Decision(kind: .failbackFence, region: region, state: next))
            } else if state.fenced {
                guard !configuration.manualFailback.contains(region), !suspects(region, now: now), outboxDepth[region] == 0, let next = map.failbackResume(region) else { continue }
                decisions.append(Decision(kind: .failbackResume, region: region, state: next))
            }
        }
        return decisions
    }
}
