/// Reads a `CLUSTER SLOTS` reply into a `ClusterSlotMap`.
///
/// Each entry is `[first slot, last slot, master, replica...]`, a node
/// being `[endpoint, port, id, ...]` (Redis 7 adds a map of metadata after
/// the id). An endpoint that is null or empty means "the host the command
/// was sent to" and `?` an unknown endpoint (Redis Cluster specification,
/// `CLUSTER SLOTS`); a replica with an unknown endpoint is left out, and
/// so is a range whose master has one.
public enum ClusterSlotsReply {
    /// The reply cannot be read as `CLUSTER SLOTS`.
    public struct Malformed: Error, Hashable, Sendable, CustomStringConvertible {
        /// What was wrong, for logs.
        public var reason: String
        public var description: String { "malformed CLUSTER SLOTS reply: \(self.reason)" }
    }

    /// The map `reply` describes; `queriedHost` is the host the command was
    /// sent to (for endpoints given as null or empty).
    public static func parse(_ reply: RESPValue, queriedHost: String) throws(Malformed) -> ClusterSlotMap {
        guard let entries = reply.array else { throw Malformed(reason: "not an array") }
        var map = ClusterSlotMap()
        for entry in entries {
            guard let fields = entry.array, fields.count >= 3 else { throw Malformed(reason: "an entry is not [first, last, master, ...]") }
            guard case .integer(let first) = fields[0], case .integer(let last) = fields[1],
                let firstSlot = Int(exactly: first), let lastSlot = Int(exactly: last),
                HashSlot(firstSlot) != nil, HashSlot(lastSlot) != nil, firstSlot <= lastSlot
            else { throw Malformed(reason: "a slot range is not two slots in order") }
            guard let master = try node(fields[2], queriedHost: queriedHost) else { continue }
            var replicas: [RedisNodeAddress] = []
            for field in fields.dropFirst(3) {
                if let replica = try node(field, queriedHost: queriedHost) { replicas.append(replica) }
            }
            map.assign(firstSlot...lastSlot, to: ClusterSlotMap.Shard(master: master, replicas: replicas))
        }
        return map
    }

    /// One node's address; nil for an unknown endpoint (`?`).
    private static func node(_ value: RESPValue, queriedHost: String) throws(Malformed) -> RedisNodeAddress? {
        guard let fields = value.array, fields.count >= 2 else { throw Malformed(reason: "a node is not [endpoint, port, ...]") }
        guard case .integer(let rawPort) = fields[1], let port = Int(exactly: rawPort) else {
            throw Malformed(reason: "a node's port is not an integer")
        }
        let host: String
        switch fields[0] {
        case .null: host = queriedHost
        case .bulk, .simpleString:
            let text = fields[0].string ?? ""
            if text == "?" { return nil }
            host = text.isEmpty ? queriedHost : text
        default: throw Malformed(reason: "a node's endpoint is not a string")
        }
        guard let address = RedisNodeAddress(host: host, port: port) else { throw Malformed(reason: "a node's port is out of range") }
        return address
    }
}
