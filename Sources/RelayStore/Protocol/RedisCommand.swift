import NIOCore

/// One argument of a Redis command. Every form is sent as a binary-safe bulk
/// string.
public enum RedisArgument: Hashable, Sendable {
    /// Text, sent as its UTF-8 bytes.
    case string(String)
    /// Raw bytes.
    case bytes(ByteBuffer)
    /// An integer, sent in decimal.
    case integer(Int64)
}

/// A value that can be passed as a `RedisCommand` argument.
public protocol RedisArgumentConvertible: Sendable {
    /// This value as a command argument.
    var redisArgument: RedisArgument { get }
}

extension RedisArgument: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { self }
}

extension String: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { .string(self) }
}

extension Substring: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { .string(String(self)) }
}

extension ByteBuffer: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { .bytes(self) }
}

extension Array: RedisArgumentConvertible where Element == UInt8 {
    public var redisArgument: RedisArgument { .bytes(ByteBuffer(bytes: self)) }
}

extension Int: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { .integer(Int64(self)) }
}

extension Int64: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { .integer(self) }
}

extension UInt64: RedisArgumentConvertible {
    public var redisArgument: RedisArgument {
        if let value = Int64(exactly: self) { return .integer(value) }
        return .string(String(self))
    }
}

extension RedisArgument: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension RedisArgument: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
}

/// A Redis command: a name and its arguments, e.g.
/// `RedisCommand("SET", "k", value)`.
public struct RedisCommand: Hashable, Sendable {
    /// The command name, e.g. `"SET"`; sent as the first bulk string.
    public var name: String
    /// The arguments after the name.
    public var arguments: [RedisArgument]
    /// The script an `EVALSHA` command runs, so the client can load it on a
    /// connection that lacks it (see `RedisScript`).
    var script: RedisScript?

    /// Makes a command from its name and arguments of any convertible type.
    public init(_ name: String, _ arguments: any RedisArgumentConvertible...) {
        self.name = name
        self.arguments = arguments.map(\.redisArgument)
        self.script = nil
    }

    /// Makes a command from its name and an array of arguments.
    public init(_ name: String, arguments: [RedisArgument]) {
        self.name = name
        self.arguments = arguments
        self.script = nil
    }
}

extension RedisCommand: CustomStringConvertible {
    /// The command name and argument count (never the argument values, which
    /// may be ciphertext or secrets).
    public var description: String { "\(self.name) (\(self.arguments.count) arguments)" }
}
