/// A Lua script run with `EVALSHA`.
///
/// The SHA1 is computed here, as Redis does. A `RedisClient` loads a script
/// with `SCRIPT LOAD` the first time it runs it on a connection, and when
/// Redis answers `NOSCRIPT` anyway (its script cache was flushed) it loads
/// the script again and retries once. Note that such a retry runs after the
/// commands that followed the script in the same batch.
public struct RedisScript: Hashable, Sendable {
    /// A name for logs (for library scripts, the file name without `.lua`).
    public let name: String
    /// The Lua source.
    public let source: String
    /// The lowercase hex SHA1 of `source`, the name Redis knows it by.
    public let sha1: String

    /// Makes a script from its Lua source.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }

    /// The `EVALSHA` command that runs this script with `keys` (`KEYS[i]`) and
    /// `arguments` (`ARGV[i]`), to send or pipeline with any client call.
    public func command(keys: [any RedisArgumentConvertible] = [], arguments: [any RedisArgumentConvertible] = []) -> RedisCommand {
        var all: [RedisArgument] = [.string(self.sha1), .integer(Int64(keys.count))]
        all.reserveCapacity(2 + keys.count + arguments.count)
        for key in keys { all.append(key.redisArgument) }
        for argument in arguments { all.append(argument.redisArgument) }
        var command = RedisCommand("EVALSHA", arguments: all)
        command.script = self
        return command
    }

    /// The `SCRIPT LOAD` command for this script.
    var loadCommand: RedisCommand {
        RedisCommand("SCRIPT", arguments: [.string("LOAD"), .string(self.source)])
    }

    public static func == (lhs: RedisScript, rhs: RedisScript) -> Bool { lhs.sha1 == rhs.sha1 }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.sha1) }
}
