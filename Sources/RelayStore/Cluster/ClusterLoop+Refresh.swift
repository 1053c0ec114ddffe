import NIOCore

/// Reading the slot map again (`CLUSTER SLOTS`).
extension ClusterLoop {
    /// Asks for a refresh of the map: now, or once the running one ends or the minimum interval has passed.
    func refreshSoon() {
        guard !self.closed else { return }
        switch self.topology.wantRefresh(now: .now()) {
        case .start: self.refresh()
        case .later(let delay?):
            self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                if self.topology.dueRefresh(now: .now()), !self.closed { self.refresh() }
            }
        case .later(nil), .nothing: break
        }
    }

    /// Asks the known nodes, one after the other, for `CLUSTER SLOTS` until one answers with a map.
    func refresh() {
        self.ask(self.topology.refreshCandidates[...])
    }

    func ask(_ candidates: ArraySlice<RedisNodeAddress>) {
        guard let node = candidates.first, !self.closed else {
            self.ended(with: nil)
            return
        }
        self.send([RedisCommand("CLUSTER", "SLOTS")], to: node).assumeIsolated().whenSuccess { answers in
            do {
                guard let answer = answers.first else { throw RedisError(.protocol, message: "no reply") }
                let map = try ClusterSlotsReply.parse(try answer.get(), queriedHost: node.host)
                guard map.servedSlotCount > 0 else { throw RedisError(.protocol, message: "the node serves no slot yet") }
                self.ended(with: map)
            } catch {
                self.logger.debug("CLUSTER SLOTS failed", metadata: ["redis.address": "\(node)", "error": "\(error)"])
                self.ask(candidates.dropFirst())
            }
        }
    }

    func ended(with map: ClusterSlotMap?) {
        if map == nil { self.logger.warning("no node of the Redis Cluster answered CLUSTER SLOTS") }
        guard self.topology.refreshEnded(with: map), !self.closed else { return }
        self.eventLoop.assumeIsolated().scheduleTask(in: self.topology.minimumRefreshInterval) { self.refreshSoon() }
    }
}
