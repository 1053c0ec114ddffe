import NIOCore

/// A reply from Redis (RESP2).
///
/// An error reply at the top level of a command's reply fails the request
/// with a `RedisError` of kind `.server`; `.error` appears only nested in an
/// array (e.g. inside an `EXEC` result or a table returned by a script).
public enum RESPValue: Hashable, Sendable {
    /// A nil bulk string or nil array.
    case null
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply nested in an array.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string: arbitrary bytes.
    case bulk(ByteBuffer)
    /// An array of replies.
    case array([RESPValue])
}

extension RESPValue {
    /// The integer of an integer reply, or of a bulk or simple string that
    /// holds a decimal integer; nil otherwise.
    public var int: Int? {
        switch self {
        case .integer(let value): return Int(exactly: value)
        case .bulk(let buffer): return Int(String(buffer: buffer))
        case .simpleString(let string): return Int(string)
        default: return nil
        }
    }

    /// The text of a bulk or simple string (bulk bytes decoded as UTF-8, with
    /// invalid sequences repaired), or of an integer; nil otherwise.
    public var string: String? {
        switch self {
        case .bulk(let buffer): return String(buffer: buffer)
        case .simpleString(let string): return string
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    /// The bytes of a bulk string, or the UTF-8 of a simple string; nil otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let buffer): return Array(buffer.readableBytesView)
        case .simpleString(let string): return Array(string.utf8)
        default: return nil
        }
    }

    /// The buffer of a bulk string; nil otherwise.
    public var buffer: ByteBuffer? {
        if case .bulk(let buffer) = self { return buffer }
        return nil
    }

    /// The elements of an array reply; nil otherwise (also for `.null`).
    public var array: [RESPValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
