import CoreMetrics
import Logging
import NIOCore

/// The cluster client's part on one event loop: a connection to each node
/// it has sent to, and the routing of requests over them (see
/// `RedisClient` for the contract).
///
/// A request is split by `ClusterPipelinePlan` and each part sent to its
/// node as one request, so the commands for one node run back to back and
/// in order there. Replies are put back in the request's order. A command
/// answered `MOVED` updates the map (and asks for a refresh) and is sent
/// to the named node; one answered `ASK` is sent to the named node behind
/// `ASKING`, once, leaving the map alone; both at most
/// `maximumRedirects` times, after the request's other commands. A
/// connection failure, `CLUSTERDOWN` or `TRYAGAIN` asks for a refresh and
/// fails that command: as for one Redis, nothing that may have run is
/// retried behind the caller's back. The cluster's "not now" replies
/// (`TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`, `LOADING`, a redirect past
/// the limit) reach the caller as `.clusterUnavailable`, not `.server`, so
/// they are not taken for a script's own error codes.
final class ClusterLoop {
    typealias Results = [Result<RESPValue, RedisError>]

    let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let topology: ClusterTopology
    private let logger: Logger
    private var connections: [RedisNodeAddress: RedisConnection] = [:]
    /// The topology version whose nodes `connections` was last pruned to.
    private var prunedVersion = 0
    private var nextConnectionIndex: Int
    private var closed = false
    /// `relay_redis_replica_ack_shortfalls_total`: write batches whose `WAIT` answered fewer replicas than asked.
    private let shortfalls = Counter(label: "relay_redis_replica_ack_shortfalls_total")
    /// `relay_redis_unreplicated_writes_total`: write batches sent without `WAIT` to a degraded master.
    private let unwaited = Counter(label: "relay_redis_unreplicated_writes_total")

    init(configuration: RedisConfiguration, topology: ClusterTopology, eventLoop: any EventLoop, index: Int, logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        self.eventLoop = eventLoop
        self.logger = logger
        self.nextConnectionIndex = index * 1_000
    }

    // MARK: Requests

    /// Runs `request`'s commands on the nodes of their slots and completes it with their results in order.
    func submit(_ request: RedisConnection.Request) {
        self.eventLoop.preconditionInEventLoop()
        guard !self.closed else {
            request.complete(Array(repeating: .failure(.closedError), count: request.commands.count))
            return
        }
        if request.commands.count == 1, request.commands[0].name.uppercased() == "SCAN" {
            self.scan(request.commands[0]).whenSuccess { result in request.complete([result]) }
            return
        }
        let everywhere = request.commands.indices.filter { Self.asksEverySeed(request.commands[$0]) }
        guard !everywhere.isEmpty else {
            self.execute(request.commands, redirects: 0).whenSuccess { results in request.complete(results) }
            return
        }
        // PUBSUB NUMSUB goes to every seed; the rest of the request is routed as usual.
        let routed = request.commands.indices.filter { !everywhere.contains($0) }
        let asked = everywhere.map { self.numsubOnEverySeed(request.commands[$0]) }
        let rest = self.execute(routed.map { request.commands[$0] }, redirects: 0)
        EventLoopFuture.whenAllSucceed(asked, on: self.eventLoop).and(rest).whenSuccess { numsubs, others in
            var results: Results = Array(repeating: .failure(RedisError(.protocol, message: "no result")), count: request.commands.count)
            for (index, result) in zip(everywhere, numsubs) { results[index] = result }
            for (index, result) in zip(routed, others) { results[index] = result }
            request.complete(results)
        }
    }

    /// Whether `command` is `PUBSUB NUMSUB`: classic Pub/Sub subscribers are
    /// counted per node, and a `RedisSubscriber` listens on one of the seeds.
    static func asksEverySeed(_ command: RedisCommand) -> Bool {
        guard command.name.uppercased() == "PUBSUB", case .string(let sub)? = command.arguments.first else { return false }
        return sub.uppercased() == "NUMSUB"
    }

    /// `PUBSUB NUMSUB` asked of every seed, the counts summed per channel
    /// (a node that does not answer counts none; all failing, the first failure).
    private func numsubOnEverySeed(_ command: RedisCommand) -> EventLoopFuture<Result<RESPValue, RedisError>> {
        let seeds = self.topology.seeds
        return EventLoopFuture.whenAllSucceed(seeds.map { self.send([command], to: $0) }, on: self.eventLoop).map { answers in
            var totals: [RESPValue]? = nil
            var firstFailure: RedisError? = nil
            for answer in answers {
                switch answer.first {
                case .success(let reply)?:
                    guard let pairs = reply.array, pairs.count % 2 == 0 else { continue }
                    var summed = totals ?? pairs
                    if totals != nil, summed.count == pairs.count {
                        for index in stride(from: 1, to: pairs.count, by: 2) {
                            let (sum, overflow) = (summed[index].int ?? 0).addingReportingOverflow(pairs[index].int ?? 0)
                            summed[index] = .integer(Int64(clamping: overflow ? Int.max : sum))
                        }
                    }
                    totals = summed
                case .failure(let error)?:
                    firstFailure = firstFailure ?? error
                case nil:
                    continue
                }
            }
            if let totals { return .success(.array(totals)) }
            return .failure(firstFailure ?? RedisError(.protocol, message: "no answer to PUBSUB NUMSUB"))
        }
    }

    /// A `SCAN` sent alone walks every master in turn (see `ClusterScanCursor`);
    /// its reply is `[cursor, keys]` as from one Redis.
    private func scan(_ command: RedisCommand) -> EventLoopFuture<Result<RESPValue, RedisError>> {
        let masters = self.topology.snapshot.map.masters.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
        let text: String? = switch command.arguments.first {
        case .string(let text): text
        case .integer(let value): String(value)
        case .bytes(let buffer): String(buffer: buffer)
        case nil: nil
        }
        guard let text, let cursor = ClusterScanCursor(text) else {
            return self.eventLoop.makeSucceededFuture(.failure(RedisError(.server("ERR"), message: "invalid cluster SCAN cursor")))
        }
        guard cursor.master < masters.count else {
            // The masters changed under the scan: it ends (a later scan starts over).
            return self.eventLoop.makeSucceededFuture(.success(.array([.bulk(ByteBuffer(string: "0")), .array([])])))
        }
        var nodeCommand = command
        nodeCommand.arguments[0] = .string(cursor.nodeCursor)
        let count = masters.count
        return self.send([nodeCommand], to: masters[cursor.master]).map { answers in
            guard let answer = answers.first else { return .failure(RedisError(.protocol, message: "no reply to SCAN")) }
            return answer.flatMap { reply in
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                    return .failure(RedisError(.protocol, message: "SCAN reply is not [cursor, keys]"))
                }
                let handed = ClusterScanCursor.after(master: cursor.master, next: next, masterCount: count)
                return .success(.array([.bulk(ByteBuffer(string: handed)), parts[1]]))
            }
        }
    }

    /// Runs `commands`; the future never fails (each command's failure is its result).
    private func execute(_ commands: [RedisCommand], redirects: Int) -> EventLoopFuture<Results> {
        let (map, version) = self.topology.snapshot
        self.prune(to: map, version: version)
        let fallback = ClusterTopology.fallback(map, seeds: self.topology.seeds)
        let known = !map.shards.isEmpty
        let plan = ClusterPipelinePlan(routes: commands.map(\.route), fallback: fallback) { slot in
            // Until the first map is read, everything goes to a seed, which redirects.
            map.master(for: slot) ?? (known ? nil : fallback)
        }
        if !plan.refused.isEmpty { self.refreshSoon() }
        let sent = plan.batches.map { batch in self.sendWaitingForReplicas(batch.indices.map { commands[$0] }, to: batch.node) }
        return EventLoopFuture.whenAllSucceed(sent, on: self.eventLoop).assumeIsolated().flatMap { answers in
            self.followRedirects(commands, plan.reassemble(answers), redirects: redirects)
        }.nonisolated()
    }

    /// Sends the commands answered with a redirect again, where it says.
    private func followRedirects(_ commands: [RedisCommand], _ results: Results, redirects: Int) -> EventLoopFuture<Results> {
        var moved: [Int] = []
        var asked: [RedisNodeAddress: [Int]] = [:]
        var askOrder: [RedisNodeAddress] = []
        for (index, result) in results.enumerated() {
            guard case .failure(let error) = result else { continue }
            if error.kind == .connection || error.kind == .timeout || error.serverCode == "CLUSTERDOWN" || error.serverCode == "TRYAGAIN" {
                self.refreshSoon()
            }
            guard redirects < self.configuration.maximumRedirects,
                let redirect = ClusterRedirect(error, queriedHost: self.configuration.host)
            else { continue }
            switch redirect.kind {
            case .moved:
                self.topology.moved(redirect.slot, to: redirect.target)
                self.refreshSoon()
                moved.append(index)
            case .ask:
                if asked[redirect.target] == nil { askOrder.append(redirect.target) }
                asked[redirect.target, default: []].append(index)
            }
        }
        guard !moved.isEmpty || !asked.isEmpty else { return self.eventLoop.makeSucceededFuture(results.map(Self.typed)) }
        var parts: [EventLoopFuture<[(Int, Result<RESPValue, RedisError>)]>] = []
        if !moved.isEmpty {
            parts.append(self.execute(moved.map { commands[$0] }, redirects: redirects + 1).map { Array(zip(moved, $0)) })
        }
        for target in askOrder {
            let indices = asked[target] ?? []
            // ASKING applies to the one command after it.
            let interleaved = indices.flatMap { [RedisCommand("ASKING"), commands[$0]] }
            parts.append(self.send(interleaved, to: target).map { answers in
                indices.enumerated().map { offset, index in
                    let position = 2 * offset + 1
                    return (index, position < answers.count ? answers[position] : .failure(RedisError(.protocol, message: "no reply after ASKING")))
                }
            })
        }
        return EventLoopFuture.whenAllSucceed(parts, on: self.eventLoop).map { retried in
            var results = results
            for (index, result) in retried.joined() { results[index] = Self.typed(result) }
            return results
        }
    }

    /// The cluster's own "not now" replies, which say the command did not
    /// run, as `.clusterUnavailable` (a caller's own error codes stay `.server`).
    static let transientCodes: Set<String> = ["TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "MOVED", "ASK"]

    private static func typed(_ result: Result<RESPValue, RedisError>) -> Result<RESPValue, RedisError> {
        guard case .failure(let error) = result, let code = error.serverCode, Self.transientCodes.contains(code) else { return result }
        return .failure(RedisError(.clusterUnavailable, message: "\(code) \(error.message)"))
    }

    /// Sends `commands` to `node`; when they write (see `ReplicaAcks`) their
    /// results are handed back only once a `WAIT` sent after them on the
    /// same connection has answered. One `WAIT` is in flight per node at a
    /// time and covers every batch sent before it (group commit): the
    /// server blocks the connection while a `WAIT` waits, so a `WAIT` per
    /// batch would queue them one behind the other, each up to its timeout
    /// when no replica answers.
    private func sendWaitingForReplicas(_ commands: [RedisCommand], to node: RedisNodeAddress) -> EventLoopFuture<Results> {
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

    /// The `WAIT` of a node: whether one is in flight, and the batches sent since it was.
    private struct ReplicaWait {
        var inFlight = false
        var uncovered: [EventLoopPromise<Void>] = []
    }

    private var replicaWaits: [RedisNodeAddress: ReplicaWait] = [:]

    /// Sends `wait` to `node`, covering every batch sent there before it;
    /// when it answers, sends the next for the batches sent meanwhile.
    private func sendWait(_ wait: RedisCommand, to node: RedisNodeAddress) {
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

    /// Sends `commands` as one request on this loop's connection to `node`.
    private func send(_ commands: [RedisCommand], to node: RedisNodeAddress) -> EventLoopFuture<Results> {
        let promise = self.eventLoop.makePromise(of: Results.self)
        self.connection(to: node).submit(RedisConnection.Request(commands: commands) { promise.succeed($0) })
        return promise.futureResult
    }

    private func connection(to node: RedisNodeAddress) -> RedisConnection {
        if let connection = self.connections[node] { return connection }
        var configuration = self.configuration
        configuration.host = node.host
        configuration.port = node.port
        configuration.database = nil  // a cluster has database 0 only
        let connection = RedisConnection(configuration: configuration, eventLoop: self.eventLoop, index: self.nextConnectionIndex, logger: self.logger)
        self.nextConnectionIndex += 1
        self.connections[node] = connection
        if self.closed { connection.close() } else { connection.start() }
        return connection
    }

    /// Closes the connections to nodes that are no longer in the map (nor seeds).
    private func prune(to map: ClusterSlotMap, version: Int) {
        guard version != self.prunedVersion else { return }
        self.prunedVersion = version
        let keep = map.nodes.union(self.topology.seeds)
        for (node, connection) in self.connections where !keep.contains(node) {
            connection.close()
            self.connections[node] = nil
        }
    }

    // MARK: Refreshing the map

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
    private func refresh() {
        self.ask(self.topology.refreshCandidates[...])
    }

    private func ask(_ candidates: ArraySlice<RedisNodeAddress>) {
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

    private func ended(with map: ClusterSlotMap?) {
        if map == nil { self.logger.warning("no node of the Redis Cluster answered CLUSTER SLOTS") }
        guard self.topology.refreshEnded(with: map), !self.closed else { return }
        self.eventLoop.assumeIsolated().scheduleTask(in: self.topology.minimumRefreshInterval) { self.refreshSoon() }
    }

    // MARK: Closing

    /// Closes every connection; later requests fail with `.closed`.
    func close() {
        self.eventLoop.preconditionInEventLoop()
        self.closed = true
        for connection in self.connections.values { connection.close() }
    }
}

@available(*, unavailable)
extension ClusterLoop: Sendable {}
