import Foundation
import NIOCore
import RelayStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real Redis Cluster on loopback for one test: `masters` masters with
/// `replicasPerMaster` replicas each, every node a `RedisServerProcess`
/// (AOF on, `appendfsync always`), joined by `redis-cli --cluster create`.
/// The nodes stop (SIGKILL) when the object goes away.
public final class RedisClusterProcess {
    /// The nodes, in the order given to `redis-cli --cluster create` (the
    /// first `masters` start as masters).
    public let nodes: [RedisServerProcess]
    /// How long a node may be unreachable before the cluster fails it over (ms).
    public let nodeTimeoutMilliseconds: Int
    /// How many replicas each master has.
    public let replicasPerMaster: Int

    /// Debian's redis-cli.
    public static let cli = "/usr/bin/redis-cli"

    /// Starts the nodes, creates the cluster and waits (bounded) until
    /// every node sees every slot served.
    public init(masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeoutMilliseconds: Int = 2_000) throws {
        self.nodeTimeoutMilliseconds = nodeTimeoutMilliseconds
        self.replicasPerMaster = replicasPerMaster
        var nodes: [RedisServerProcess] = []
        for _ in 0..<(masters * (1 + replicasPerMaster)) {
            nodes.append(try RedisServerProcess(extraArguments: [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", String(nodeTimeoutMilliseconds),
                // A replica may take over at once, however long its master was gone.
                "--cluster-replica-validity-factor", "0",
                // The bus port is the port + 10000 unless given: ephemeral ports are too high for that.
                "--cluster-port", String(try RedisServerProcess.freeLoopbackPort()),
            ]))
        }
        self.nodes = nodes
        let create = try Self.runCLI(
            ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                + ["--cluster-replicas", String(replicasPerMaster), "--cluster-yes"])
        guard create.status == 0 else { throw RedisServerProcess.ServerStartError(message: "redis-cli --cluster create failed: \(create.output)") }
        try self.waitUntilHealthy(timeout: .seconds(20))
    }

    /// The seed addresses of every node.
    public var seeds: [RedisNodeAddress] {
        self.nodes.compactMap { RedisNodeAddress(host: "127.0.0.1", port: $0.port) }
    }

    /// A client configuration for this cluster, with short timeouts.
    public var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(clusterSeeds: self.seeds)
        configuration.connectTimeout = .seconds(1)
        configuration.commandTimeout = .seconds(5)
        configuration.minimumReconnectDelay = .milliseconds(20)
        configuration.maximumReconnectDelay = .milliseconds(200)
        configuration.clusterRefreshInterval = .milliseconds(500)
        return configuration
    }

    /// The node listening on `port`.
    public func node(port: Int) -> RedisServerProcess? {
        self.nodes.first { $0.port == port }
    }

    /// Runs `redis-cli` with `arguments` (bounded by its own timeouts) and
    /// returns its exit status and output.
    @discardableResult
    public static func runCLI(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.cli)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `redis-cli -p <port> <arguments>`'s output.
    public func cli(port: Int, _ arguments: [String]) throws -> String {
        try Self.runCLI(["-p", String(port)] + arguments).output
    }

    /// Waits until every running node reports `cluster_state:ok` and all
    /// 16384 slots served, and every master has `replicasPerMaster` replicas
    /// online (so `WAIT` can be answered), or throws after `timeout`.
    public func waitUntilHealthy(timeout: TimeAmount) throws {
        let deadline = NIODeadline.now() + timeout
        var last = ""
        while NIODeadline.now() < deadline {
            var healthy = true
            for node in self.nodes where node.isRunning {
                let info = (try? self.cli(port: node.port, ["CLUSTER", "INFO"])) ?? ""
                if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") {
                    healthy = false
                    last = "node \(node.port): \(info.prefix(200))"
                    break
                }
                let replication = (try? self.cli(port: node.port, ["INFO", "replication"])) ?? ""
                let online = replication.components(separatedBy: "state=online").count - 1
                if replication.contains("role:master"), online < self.replicasPerMaster {
                    healthy = false
                    last = "node \(node.port): \(online) replicas online"
                    break
                }
            }
            if healthy { return }
            usleep(100_000)
        }
        throw RedisServerProcess.ServerStartError(message: "the cluster did not become healthy: \(last)")
    }

    /// The masters' slot ranges and ports, as node `port` (or the first
    /// running node) sees them in `CLUSTER NODES` (slots being imported or
    /// migrated are not listed apart).
    public func masterRanges(askingPort port: Int? = nil) throws -> [(slots: ClosedRange<Int>, port: Int)] {
        let asked = port ?? self.nodes.first(where: \.isRunning)?.port ?? 0
        var ranges: [(slots: ClosedRange<Int>, port: Int)] = []
        for line in try self.cli(port: asked, ["CLUSTER", "NODES"]).split(whereSeparator: \.isNewline) {
            // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot or range>...
            let fields = line.split(separator: " ")
            guard fields.count >= 8, fields[2].contains("master"), !fields[2].contains("fail"),
                let address = RedisNodeAddress(fields[1])
            else { continue }
            for range in fields.dropFirst(8) where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                guard let first = bounds.first, let last = bounds.last, first <= last else { continue }
                ranges.append((first...last, address.port))
            }
        }
        return ranges
    }

    /// The port of the master serving `slot`, as node `port` (or the first
    /// running node) sees it.
    public func masterPort(forSlot slot: HashSlot, askingPort port: Int? = nil) throws -> Int? {
        try self.masterRanges(askingPort: port).first { $0.slots.contains(Int(slot.value)) }?.port
    }
}
