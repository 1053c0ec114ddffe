/// Who serves which region, seen from one region: the pure rules of homes,
/// failover and mirroring (docs/replication.md).
///
/// Every region has a state: a term, the region serving it, and whether it is
/// fenced. Normally a region serves itself at term 1. A failover of A to its
/// standby S raises A's term and makes S serve A; a failback fences A (no one
/// serves it while S's last frames drain), then lets A serve itself again,
/// each under a higher term. Terms only grow, so merging two views keeps the
/// higher term of each region, whatever order the views arrive in.
public struct RegionMap: Sendable, Equatable {
    /// One region's authority.
    public struct State: Sendable, Equatable {
        /// Raised by every failover and failback; conversations homed in the
        /// region are sequenced under this epoch.
        public var term: UInt32
        /// The region that serves this region's devices and conversations.
        public var servedBy: String
        /// No region serves it (a failback is draining).
        public var fenced: Bool

        /// A state.
        public init(term: UInt32, servedBy: String, fenced: Bool = false) {
            self.term = term
            self.servedBy = servedBy
            self.fenced = fenced
        }
    }

    /// The region this map belongs to.
    public let local: String
    /// Each region's standby (nil: none).
    public let standbys: [String: String?]
    /// Each region's current state.
    public private(set) var states: [String: State]

    /// The map of `local` in a deployment whose regions have `standbys`;
    /// every region serves itself at term 1.
    public init(local: String, standbys: [String: String?]) {
        self.local = local
        self.standbys = standbys
        var states: [String: State] = [:]
        for region in standbys.keys { states[region] = State(term: 1, servedBy: region) }
        states[local] = states[local] ?? State(term: 1, servedBy: local)
        self.states = states
    }

    /// Every region, sorted.
    public var regions: [String] { states.keys.sorted() }

    /// Every region but the local one, sorted.
    public var peers: [String] { regions.filter { $0 != local } }

    /// The state of `region` (a region the map does not know serves itself at term 1).
    public func state(of region: String) -> State {
        states[region] ?? State(term: 1, servedBy: region)
    }

    /// The region serving `home`'s devices and conversations, or nil while
    /// `home` is fenced.
    public func servingRegion(of home: String) -> String? {
        let state = state(of: home)
        return state.fenced ? nil : state.servedBy
    }

    /// Where frames for `home`'s devices and conversations go: the serving
    /// region, or the home itself while it is fenced (they wait in its
    /// outbox until it resumes).
    public func deliveryRegion(of home: String) -> String {
        servingRegion(of: home) ?? home
    }

    /// Users grouped by the region that delivers to them (`homes`: user → home region).
    public func audience(_ homes: [String: String]) -> [String: [String]] {
        var byRegion: [String: [String]] = [:]
        for (user, home) in homes { byRegion[deliveryRegion(of: home), default: []].append(user) }
        return byRegion.mapValues { $0.sorted() }
    }

    /// `users` grouped by the region that delivers to them, where a user
    /// missing from `homes` (its directory entry is still on its way) is
    /// in every region's group: the region holding its devices delivers.
    public func audience(of users: [String], homes: [String: String]) -> [String: [String]] {
        var byRegion = audience(homes.filter { users.contains($0.key) })
        let unknown = users.filter { homes[$0] == nil }.sorted()
        if !unknown.isEmpty {
            for region in regions { byRegion[region, default: []].append(contentsOf: unknown) }
        }
        return byRegion
    }

    /// Whether this region serves `home` now (accepts its devices and
    /// sequences its conversations).
    public func servesHere(_ home: String) -> Bool {
        servingRegion(of: home) == local
    }

    /// Where a region that stored another region's copy of a message passes
    /// it on for a user homed in `home`: to `home`'s mirror when this region
    /// serves `home` (the user's queues changed here); to the region
    /// delivering to `home` when this region knows a newer term of `home`
    /// than the sender did when it shipped (`senderTerm`; nil when the sender
    /// did not know the user's home and so shipped to every region); else
    /// nowhere, since the sender reached that region itself and a second
    /// path could deliver a later message before an earlier one.
    public func onwardTarget(forHome home: String, senderTerm: UInt32?, origin: String) -> String? {
        let target: String?
        if servesHere(home) {
            target = mirrorTarget(forHome: home)
        } else if let senderTerm, term(of: home) > senderTerm {
            target = deliveryRegion(of: home)
        } else {
            target = nil
        }
        guard let target, target != origin, target != local else { return nil }
        return target
    }

    /// The current term of each of `homes` (what a message copy carries as
    /// `home_terms`, for `onwardTarget` at the receiver).
    public func terms(ofHomes homes: some Sequence<String>) -> [String: UInt32] {
        var terms: [String: UInt32] = [:]
        for home in homes { terms[home] = term(of: home) }
        return terms
    }

    /// The epoch for conversations homed in `home` sequenced now.
    public func term(of home: String) -> UInt32 {
        state(of: home).term
    }

    /// Where changes to the queues of devices homed in `home` (served here)
    /// are mirrored: the local region's standby for its own devices, and the
    /// home itself for a failed-over region's devices (so it can fail back).
    public func mirrorTarget(forHome home: String) -> String? {
        if home == local {
            return standbys[local] ?? nil
        }
        return home
    }

    /// Merges another view; returns the regions whose state changed.
    @discardableResult
    public mutating func merge(_ view: [String: State]) -> [String] {
        var changed: [String] = []
        for (region, incoming) in view.sorted(by: { $0.key < $1.key }) {
            let current = state(of: region)
            if incoming.term > current.term {
                states[region] = incoming
                changed.append(region)
            }
        }
        return changed
    }

    /// The failover of `region` to its standby: the new state, or nil when
    /// it has no standby or is not serving itself.
    public func failover(_ region: String) -> State? {
        let current = state(of: region)
        guard let standby = standbys[region] ?? nil, current.servedBy == region, !current.fenced else { return nil }
        return State(term: current.term + 1, servedBy: standby)
    }

    /// The first step of failing `region` back: fenced, so that its standby
    /// stops serving it while the last frames drain. Nil unless it is failed over.
    public func failbackFence(_ region: String) -> State? {
        let current = state(of: region)
        guard current.servedBy != region, !current.fenced else { return nil }
        return State(term: current.term + 1, servedBy: region, fenced: true)
    }

    /// The last step of failing `region` back: it serves itself again. Nil
    /// unless it is fenced.
    public func failbackResume(_ region: String) -> State? {
        let current = state(of: region)
        guard current.fenced else { return nil }
        return State(term: current.term + 1, servedBy: region)
    }
}

extension RegionMap.State {
    /// The state of `message.region`, from its wire form.
    public init(_ message: Relay_V1_RegionState) {
        self.init(term: message.term, servedBy: message.servedBy.isEmpty ? message.region : message.servedBy, fenced: message.fenced)
    }

    /// The wire form, for `region`.
    public func message(region: String) -> Relay_V1_RegionState {
        var m = Relay_V1_RegionState()
        m.region = region
        m.term = term
        m.servedBy = servedBy
        m.fenced = fenced
        return m
    }

    /// The form stored in Redis: `term|servedBy|fenced`.
    public var stored: String { "\(term)|\(servedBy)|\(fenced ? 1 : 0)" }

    /// Parses the stored form.
    public init?(stored: String) {
        let parts = stored.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, let term = UInt32(parts[0]), !parts[1].isEmpty else { return nil }
        self.init(term: term, servedBy: String(parts[1]), fenced: parts[2] == "1")
    }
}
