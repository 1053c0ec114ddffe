import NIOCore

/// When a cluster client makes a write wait for a replica (`WAIT`), and
/// what it does when none answers in time (decision 0023).
///
/// A batch of commands for one master that holds a write is followed by
/// `WAIT <replicas> <timeout>` on the same connection, so its replies come
/// only once that many replicas have the writes (and everything before them
/// on the connection). A batch of reads only is sent as it is. A `WAIT`
/// that answers fewer replicas (none online: after a failover, until the
/// old master returns as a replica) leaves the writes standing on the
/// master alone; the master is then "degraded" for `degradedFor`, during
/// which its writes are not made to wait (each would hold its connection
/// for the whole timeout), then `WAIT` is tried again.
struct ReplicaAcks {
    /// Replicas a write waits for (0: none, no `WAIT`).
    let replicas: Int
    /// The longest a `WAIT` blocks its connection.
    let timeout: TimeAmount
    /// How long a master whose `WAIT` fell short is written to without one.
    let degradedFor: TimeAmount
    private var degradedUntil: [RedisNodeAddress: NIODeadline] = [:]

    init(replicas: Int, timeout: TimeAmount, degradedFor: TimeAmount = .seconds(5)) {
        self.replicas = max(0, replicas)
        self.timeout = timeout
        self.degradedFor = degradedFor
    }

    /// Commands that never write, as Redis's command table flags them
    /// (those this project sends, and their kin); any other command is
    /// taken for a write.
    static let readOnlyCommands: Set<String> = [
        "GET", "MGET", "STRLEN", "GETRANGE", "EXISTS", "TTL", "PTTL", "TYPE", "HGET", "HMGET", "HGETALL", "HKEYS",
        "HVALS", "HLEN", "HEXISTS", "HSTRLEN", "LINDEX", "LLEN", "LRANGE", "SMEMBERS", "SISMEMBER", "SMISMEMBER",
        "SCARD", "SRANDMEMBER", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZCARD",
        "ZCOUNT", "ZSCORE", "ZMSCORE", "ZRANK", "ZREVRANK", "XRANGE", "XREVRANGE", "XLEN", "XINFO", "SCAN", "SSCAN",
        "HSCAN", "ZSCAN", "PING", "ECHO", "PUBLISH", "SPUBLISH", "PUBSUB", "INFO", "CLUSTER", "TIME", "DBSIZE",
        "ASKING", "READONLY", "READWRITE", "WAIT", "EVALSHA_RO", "EVAL_RO", "FCALL_RO", "SCRIPT", "COMMAND", "MEMORY",
    ]

    /// Whether `command` may write.
    static func writes(_ command: RedisCommand) -> Bool {
        !Self.readOnlyCommands.contains(command.name.uppercased())
    }

    /// The `WAIT` to put after `commands` sent to `node` at `now`, or nil.
    func wait(after commands: [RedisCommand], to node: RedisNodeAddress, now: NIODeadline) -> RedisCommand? {
        guard self.replicas > 0, commands.contains(where: Self.writes) else { return nil }
        if let until = self.degradedUntil[node], now < until { return nil }
        return RedisCommand("WAIT", arguments: [.integer(Int64(self.replicas)), .integer(self.timeout.nanoseconds / 1_000_000)])
    }

    /// Records `WAIT`'s answer from `node`; returns whether it fell short
    /// (the master is degraded from now on).
    mutating func answered(_ reply: Result<RESPValue, RedisError>, from node: RedisNodeAddress, now: NIODeadline) -> Bool {
        if case .success(let value) = reply, let acknowledged = value.int, acknowledged >= self.replicas {
            self.degradedUntil[node] = nil
            return false
        }
        self.degradedUntil[node] = now + self.degradedFor
        return true
    }
}
