/// A redirect from a cluster node: the error replies `MOVED <slot>
/// <endpoint>:<port>` (the slot lives elsewhere now: update the map) and
/// `ASK <slot> <endpoint>:<port>` (the slot is being migrated and this key
/// may be on the target already: send `ASKING` and the command there, once,
/// without updating the map). Redis Cluster specification, "Redirection
/// and resharding".
public struct ClusterRedirect: Hashable, Sendable {
    /// Which redirect it is.
    public enum Kind: Hashable, Sendable {
        /// The slot has moved for good.
        case moved
        /// The slot is migrating; ask the target this once.
        case ask
    }

    /// `MOVED` or `ASK`.
    public var kind: Kind
    /// The slot the command's keys hash to.
    public var slot: HashSlot
    /// The node to send the command to.
    public var target: RedisNodeAddress

    /// The redirect `error` carries, or nil when it is not a well-formed
    /// `MOVED` or `ASK` (an empty endpoint means `queriedHost`, the host the
    /// command was sent to, as Redis 7 may answer with `:<port>`).
    public init?(_ error: RedisError, queriedHost: String) {
        let kind: Kind
        switch error.serverCode {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        let words = error.message.split(separator: " ")
        guard words.count == 2, let number = Int(words[0]), let slot = HashSlot(number) else { return nil }
        var endpoint = String(words[1])
        if endpoint.hasPrefix(":") { endpoint = queriedHost + endpoint }
        guard let target = RedisNodeAddress(endpoint) else { return nil }
        self.kind = kind
        self.slot = slot
        self.target = target
    }
}
