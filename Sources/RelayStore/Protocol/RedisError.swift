/// A failure of a Redis operation.
///
/// `kind` is stable and meant to be matched on; `message` is diagnostics for
/// logs (for a server error, the reply text after its code).
public struct RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in a form callers can match on.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connection
            case `protocol`
            case server(String)
            case timeout
            case closed
            case overloaded
            case clusterUnavailable
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The connection could not be made, or broke. A request that fails
        /// this way may or may not have been executed by the server.
        public static let connection = Kind(.connection)
        /// The server sent something that is not valid RESP.
        public static let `protocol` = Kind(.protocol)
        /// The server answered with an error reply whose first word is `code`
        /// (`"ERR"`, `"WRONGTYPE"`, `"NOSCRIPT"`, or a code of a Lua script's
        /// own such as `"NOT_MEMBER"` from `redis.error_reply("NOT_MEMBER ...")`).
        public static func server(_ code: String) -> Kind { Kind(.server(code)) }
        /// No reply came within the command timeout. The request may or may
        /// not have been executed.
        public static let timeout = Kind(.timeout)
        /// The client or subscriber was closed before the request ran.
        public static let closed = Kind(.closed)
        /// The connection already had `RedisConfiguration.maximumPendingCommands`
        /// commands waiting or in flight: the request was refused without
        /// being sent. Try later or shed load.
        public static let overloaded = Kind(.overloaded)
        /// A Redis Cluster could not run the command now and said so: the
        /// slot is being migrated (`TRYAGAIN`), has no master (`CLUSTERDOWN`,
        /// `MASTERDOWN`), its master is loading (`LOADING`), or redirects
        /// went on past `maximumRedirects` (`MOVED`, `ASK`). The command did
        /// not run; the same request may succeed a moment later.
        public static let clusterUnavailable = Kind(.clusterUnavailable)

        /// The error code when this is a server error reply, else nil.
        public var serverCode: String? {
            if case .server(let code) = self.base { return code }
            return nil
        }

        public var description: String {
            switch self.base {
            case .connection: return "connection"
            case .protocol: return "protocol"
            case .server(let code): return "server(\(code))"
            case .timeout: return "timeout"
            case .closed: return "closed"
            case .overloaded: return "overloaded"
            case .clusterUnavailable: return "clusterUnavailable"
            }
        }
    }

    /// What went wrong.
    public var kind: Kind
    /// Human-readable detail, for logs only: do not match on it.
    public var message: String

    /// Makes an error of `kind` with diagnostic `message`.
    public init(_ kind: Kind, message: String = "") {
        self.kind = kind
        self.message = message
    }

    /// The error for a Redis error reply such as `"NOSCRIPT No matching script"`:
    /// the first word becomes the code, the rest the message.
    public init(serverReply reply: String) {
        if let space = reply.firstIndex(of: " ") {
            self.init(.server(String(reply[..<space])), message: String(reply[reply.index(after: space)...]))
        } else {
            self.init(.server(reply), message: "")
        }
    }

    /// The server error code (first word of the reply), if this is a server error.
    public var serverCode: String? { self.kind.serverCode }

    public var description: String {
        self.message.isEmpty ? "RedisError.\(self.kind)" : "RedisError.\(self.kind): \(self.message)"
    }

    static let closedError = RedisError(.closed, message: "the client is closed")
}
