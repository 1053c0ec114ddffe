import NIOCore

/// Writes that wait for a replica: `WAIT` as group commit (decision 0023).
extension ClusterLoop {
    /// Sends `commands` to `node`; when they write (see `ReplicaAcks`) their
    /// results are handed back only once a `WAIT` sent after them on the
    /// same connection has answered. One `WAIT` is in flight per node at a
    /// time and covers every batch sent before it (group commit): the
    /// server blocks the connection while a `WAIT` waits, so a `WAIT` per
    /// batch would queue them one behind the other, each up to its timeout
    /// when no replica answers.
    func sendWaitingForReplicas(_ commands: [RedisCommand], to node: RedisNodeAddress) -> EventLoopFuture<Results> {
        let now = NIODeadline.now()
        let (wait, replicas) = self.topology.replicaAcks.withLockedValue { ($0.wait(after: commands, to: node, now: now), $0.replicas) }
        guard let wait else {
            if replicas > 0, commands.contains(where: ReplicaAcks.writes) { self.unwaited.increment() }
            return self.send(commands, to: node)
        }
        let sent = self.send(commands, to: node)
        let covered = self.eventLoop.makePromise(of: Void.self)
        self.replicaWaits[node, default: ReplicaWait()].uncovered.append(covered)
        if self.replicaWaits[node]?.inFlight == false { self.sendWait(wait, to: node) }
        return sent.and(covered.futureResult).map { results, _ in results }
    }

    /// Sends `wait` to `node`, covering every batch sent there before it;
    /// when it answers, sends the next for the batches sent meanwhile.
    func sendWait(_ wait: RedisCommand, to node: RedisNodeAddress) {
        let covering = self.replicaWaits[node]?.uncovered ?? []
        self.replicaWaits[node] = ReplicaWait(inFlight: true, uncovered: [])
        self.send([wait], to: node).assumeIsolated().whenSuccess { answers in
            let answer = answers.first ?? .failure(RedisError(.protocol, message: "no reply to WAIT"))
            if self.topology.replicaAcks.withLockedValue({ $0.answered(answer, from: node, now: .now()) }) {
                self.shortfalls.increment()
                self.logger.warning("a write was not acknowledged by a replica in time: writing to this master without WAIT for a while", metadata: [
                    "redis.address": "\(node)", "wait": "\(answer)",
                ])
            }
            for promise in covering { promise.succeed(()) }
            self.replicaWaits[node]?.inFlight = false
            if let pending = self.replicaWaits[node], !pending.uncovered.isEmpty { self.sendWait(wait, to: node) }
        }
    }
}
