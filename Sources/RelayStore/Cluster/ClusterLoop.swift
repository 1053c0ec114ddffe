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
    let configuration: RedisConfiguration
    let topology: ClusterTopology
    let logger: Logger
    private var connections: [RedisNodeAddress: RedisConnection] = [:]
    /// The topology version whose nodes `connections` was last pruned to.
    private var prunedVersion = 0
    private var nextConnectionIndex: Int
    var closed = false
    /// The `WAIT` of a node: whether one is in flight, and the batches sent since it was.
    struct ReplicaWait {
        var inFlight = false
        var uncovered: [EventLoopPromise<Void>] = []
    }

    /// Per node: the `WAIT` in flight and the batches it does not cover (ClusterLoop+ReplicaWait.swift).
    var replicaWaits: [RedisNodeAddress: ReplicaWait] = [:]

    /// `relay_redis_replica_ack_shortfalls_total`: write batches whose `WAIT` answered fewer replicas than asked.
    let shortfalls = Counter(label: "relay_redis_replica_ack_shortfalls_total")
    /// `relay_redis_unreplicated_writes_total`: write batches sent without `WAIT` to a degraded master.
    let unwaited = Counter(label: "relay_redis_unreplicated_writes_total")

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

    /// Runs `commands`; the future never fails (each command's failure is its result).
    func execute(_ commands: [RedisCommand], redirects: Int) -> EventLoopFuture<Results> {
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
            let movedIndices = moved
            parts.append(self.execute(movedIndices.map { commands[$0] }, redirects: redirects + 1).map { Array(zip(movedIndices, $0)) })
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

    /// Sends `commands` as one request on this loop's connection to `node`.
    func send(_ commands: [RedisCommand], to node: RedisNodeAddress) -> EventLoopFuture<Results> {
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
