import NIOCore

/// Where a `RedisClient` or `RedisSubscriber` connects and how it behaves.
public struct RedisConfiguration: Sendable {
    /// The server's host name or IP address.
    public var host: String
    /// The server's TCP port.
    public var port: Int
    /// How many connections, each with its own thread, a `RedisClient` keeps.
    public var connectionCount: Int = 2
    /// The longest a TCP connect may take.
    public var connectTimeout: TimeAmount = .seconds(2)
    /// The longest one socket read or write may block; a connection that
    /// times out is dropped and its in-flight requests fail with `.timeout`.
    /// Keep it above the longest blocking command used (`BLPOP` and the like). nil: no limit.
    public var commandTimeout: TimeAmount? = .seconds(5)
    /// The ACL user for `AUTH` (nil: the default user).
    public var username: String? = nil
    /// The password for `AUTH` (nil: no `AUTH`).
    public var password: String? = nil
    /// The database to `SELECT` (nil: 0). Pub/Sub ignores it, as Redis does.
    public var database: Int? = nil
    /// The most commands one thread writes in one pipelined batch. One
    /// `pipeline` request larger than this still goes as one batch.
    public var maximumBatchCommands: Int = 512
    /// The first delay before reconnecting after a failure.
    public var minimumReconnectDelay: TimeAmount = .milliseconds(50)
    /// The longest delay between reconnect attempts.
    public var maximumReconnectDelay: TimeAmount = .seconds(2)

    /// A configuration for `host:port` with defaults for everything else.
    public init(host: String = "127.0.0.1", port: Int = 6379) {
        self.host = host
        self.port = port
    }

    /// Opens one connection with these settings.
    func connect() throws(RedisError) -> RedisConnection {
        try RedisConnection.connect(
            host: self.host,
            port: self.port,
            connectTimeout: self.connectTimeout,
            commandTimeout: self.commandTimeout,
            username: self.username,
            password: self.password,
            database: self.database
        )
    }
}
