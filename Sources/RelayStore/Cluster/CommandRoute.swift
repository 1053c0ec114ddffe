import NIOCore

/// Where a command must run in a cluster, from its keys.
public enum CommandRoute: Hashable, Sendable {
    /// On the node serving this slot: every key of the command hashes to it.
    case slot(HashSlot)
    /// On any node: the command has no key (`PING`, `SCRIPT LOAD`,
    /// `PUBLISH`, `WAIT`, an `EVALSHA` with no keys, ...).
    case anyNode
    /// Nowhere: its keys hash to different slots, which Redis refuses with
    /// `CROSSSLOT`.
    case crossSlot
}

extension RedisCommand {
    /// Where this command runs in a cluster: the slot of its keys.
    ///
    /// Keys are found by the command's form, as Redis's key specs give them
    /// for the commands this project sends: `EVAL`/`EVALSHA`/`FCALL` (and
    /// their `_RO` forms) name `numkeys` keys after the script; `DEL`,
    /// `UNLINK`, `EXISTS`, `TOUCH`, `MGET`, `SUNION`, `SINTER`, `SDIFF`
    /// take only keys; `MSET`/`MSETNX` alternate keys and values;
    /// `SPUBLISH`, `SSUBSCRIBE`, `SUNSUBSCRIBE` and `PUBSUB SHARDNUMSUB`
    /// route by their shard channels; the commands in `keylessCommands` have none; every other
    /// command's first argument is its key.
    public var route: CommandRoute {
        Self.route(of: self.keyArguments)
    }

    /// Commands with no key: they may run on any node.
    public static let keylessCommands: Set<String> = [
        "PING", "ECHO", "SCRIPT", "PUBLISH", "PUBSUB", "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE",
        "PUNSUBSCRIBE", "WAIT", "INFO", "CLUSTER", "SCAN", "DBSIZE", "TIME", "FLUSHALL", "FLUSHDB",
        "CONFIG", "CLIENT", "COMMAND", "AUTH", "SELECT", "HELLO", "READONLY", "READWRITE", "ASKING",
        "MULTI", "EXEC", "DISCARD", "FUNCTION", "LASTSAVE", "ROLE", "MEMORY", "DEBUG", "BGREWRITEAOF",
    ]

    /// The arguments that are keys (or shard channels), by the rules of `route`.
    var keyArguments: ArraySlice<RedisArgument> {
        let name = self.name.uppercased()
        let arguments = self.arguments[...]
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard arguments.count >= 2, let count = Self.integer(arguments[arguments.startIndex + 1]), count >= 0 else { return [] }
            let first = arguments.startIndex + 2
            let end = min(arguments.endIndex, first + count)
            return arguments[first..<end]
        case "DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "SUNION", "SINTER", "SDIFF", "SSUBSCRIBE", "SUNSUBSCRIBE", "WATCH":
            return arguments
        case "PUBSUB":
            // Only SHARDNUMSUB names shard channels; NUMSUB and the rest are keyless.
            guard let sub = arguments.first, case .string(let text) = sub, text.uppercased() == "SHARDNUMSUB" else { return [] }
            return arguments.dropFirst()
        case "MSET", "MSETNX":
            return ArraySlice(arguments.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        default:
            if Self.keylessCommands.contains(name) { return [] }
            return arguments.prefix(1)
        }
    }

    private static func route(of keys: ArraySlice<RedisArgument>) -> CommandRoute {
        var found: HashSlot? = nil
        for key in keys {
            let slot = key.hashSlot
            if let earlier = found, earlier != slot { return .crossSlot }
            found = slot
        }
        return found.map { .slot($0) } ?? .anyNode
    }

    private static func integer(_ argument: RedisArgument) -> Int? {
        switch argument {
        case .integer(let value): return Int(exactly: value)
        case .string(let text): return Int(text)
        case .bytes(let buffer): return Int(String(buffer: buffer))
        }
    }
}

extension RedisArgument {
    /// The hash slot of this argument taken as a key.
    var hashSlot: HashSlot {
        switch self {
        case .string(let text): return HashSlot(key: text)
        case .bytes(let buffer): return HashSlot(key: Array(buffer.readableBytesView))
        case .integer(let value): return HashSlot(key: String(value))
        }
    }
}
