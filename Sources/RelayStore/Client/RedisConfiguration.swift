import NIOCore

/// Where a `RedisClient` or `RedisSubscriber` connects and how it behaves.
public struct RedisConfiguration: Sendable {
    /// The server's host name or IP address.
    public var host: String
    /// The server's TCP port.
    public var port: Int
    /// How many connections a `RedisClient` keeps on each event loop of its
    /// group. A request issued on a loop uses that loop's connections, so it
    /// never leaves its loop; the requests of one tick spill to the next
    /// connection once 16 KiB are written to one (Redis reads at most that
    /// from one client per pass of its event loop).
    public var connectionCount: Int = 1
    /// The longest a TCP connect may take.
    public var connectTimeout: TimeAmount = .seconds(2)
    /// The longest a command may wait for its reply; a connection whose
    /// oldest command waits longer is dropped and its in-flight requests
    /// fail with `.timeout`. Keep it above the longest blocking command used
    /// (`BLPOP` and the like), which also holds up every command pipelined
    /// behind it. nil: no limit.
    public var commandTimeout: TimeAmount? = .seconds(5)
    /// The ACL user for `AUTH` (nil: the default user).
    public var username: String? = nil
    /// The password for `AUTH` (nil: no `AUTH`).
    public var password: String? = nil
    /// The database to `SELECT` (nil: 0). Pub/Sub ignores it, as Redis does.
    public var database: Int? = nil
    /// The most commands one connection holds waiting or in flight; a
    /// request past it fails at once with `.overloaded`. (A single request
    /// larger than this still goes when the connection has nothing pending.)
    public var maximumPendingCommands: Int = 65_536
    /// The largest reply accepted, in bytes; a larger one (or a server that
    /// streams garbage that never completes a reply) breaks the connection
    /// with `.protocol`. Redis's own bulk limit is 512 MB.
    public var maximumReplyBytes: Int = 512 * 1024 * 1024
    /// The first delay before reconnecting after a failed attempt.
    public var minimumReconnectDelay: TimeAmount = .milliseconds(50)
    /// The longest delay between reconnect attempts.
    public var maximumReconnectDelay: TimeAmount = .seconds(2)
    /// Seed nodes of a Redis Cluster. Empty (the default): `host` and
    /// `port` name one Redis. Otherwise a `RedisClient` is a cluster
    /// client: it reads the slot map from any of these nodes (or of the
    /// nodes the map names) and routes each command to the master of its
    /// slot; `host` and `port` are then only where a `RedisSubscriber`
    /// connects, and `database` and `connectionCount` do not apply (one
    /// connection per node and event loop, database 0).
    public var clusterSeeds: [RedisNodeAddress] = []
    /// How often a cluster client reads the slot map again even when no
    /// redirect or failure asked for it.
    public var clusterRefreshInterval: TimeAmount = .seconds(5)
    /// The least time between two reads of the slot map.
    public var clusterMinimumRefreshInterval: TimeAmount = .milliseconds(100)
    /// How many `MOVED`/`ASK` redirects one command follows before its
    /// redirect error is returned to the caller.
    public var maximumRedirects: Int = 5

    /// In cluster mode, how many replicas a write waits for: a request's
    /// writes to a master are followed by `WAIT <n> <timeout>` on the same
    /// connection, so their replies (and a PUBACK after them) come once a
    /// replica has them too. 0: no `WAIT`. See `ReplicaAcks` for what happens
    /// when none answers in time.
    public var clusterReplicaAcks: Int = 1
    /// The longest such a `WAIT` blocks (it holds its connection meanwhile).
    public var clusterReplicaAckTimeout: TimeAmount = .milliseconds(500)

    /// Whether this configuration names a Redis Cluster (`clusterSeeds` is not empty).
    public var isCluster: Bool { !self.clusterSeeds.isEmpty }

    /// A configuration for `host:port` with defaults for everything else.
    public init(host: String = "127.0.0.1", port: Int = 6379) {
        self.host = host
        self.port = port
    }

    /// A configuration for the Redis Cluster with `seeds` (at least one);
    /// `host` and `port` are the first seed's.
    public init(clusterSeeds seeds: [RedisNodeAddress]) {
        self.host = seeds.first?.host ?? "127.0.0.1"
        self.port = seeds.first?.port ?? 6379
        self.clusterSeeds = seeds
    }
}
