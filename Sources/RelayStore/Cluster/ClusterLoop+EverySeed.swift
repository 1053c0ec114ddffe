import NIOCore

/// Commands a cluster answers per node, made to answer for the cluster:
/// `PUBSUB NUMSUB` asked of every seed, `SCAN` walking every master.
extension ClusterLoop {
    /// Whether `command` is `PUBSUB NUMSUB`: classic Pub/Sub subscribers are
    /// counted per node, and a `RedisSubscriber` listens on one of the seeds.
    static func asksEverySeed(_ command: RedisCommand) -> Bool {
        guard command.name.uppercased() == "PUBSUB", case .string(let sub)? = command.arguments.first else { return false }
        return sub.uppercased() == "NUMSUB"
    }

    /// `PUBSUB NUMSUB` asked of every seed, the counts summed per channel
    /// (a node that does not answer counts none; all failing, the first failure).
    func numsubOnEverySeed(_ command: RedisCommand) -> EventLoopFuture<Result<RESPValue, RedisError>> {
        let seeds = self.topology.seeds
        return EventLoopFuture.whenAllSucceed(seeds.map { self.send([command], to: $0) }, on: self.eventLoop).map { answers in
            SubscriberCounts.sum(answers.map { $0.first ?? .failure(RedisError(.protocol, message: "no reply")) })
        }
    }

    /// A `SCAN` sent alone walks every master in turn (see `ClusterScanCursor`);
    /// its reply is `[cursor, keys]` as from one Redis.
    func scan(_ command: RedisCommand) -> EventLoopFuture<Result<RESPValue, RedisError>> {
        let masters = self.topology.snapshot.map.masters.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
        let text: String? = switch command.arguments.first {
        case .string(let text): text
        case .integer(let value): String(value)
        case .bytes(let buffer): String(buffer: buffer)
        case nil: nil
        }
        guard let text, let cursor = ClusterScanCursor(text) else {
            return self.eventLoop.makeSucceededFuture(.failure(RedisError(.server("ERR"), message: "invalid cluster SCAN cursor")))
        }
        guard cursor.master < masters.count else {
            // The masters changed under the scan: it ends (a later scan starts over).
            return self.eventLoop.makeSucceededFuture(.success(.array([.bulk(ByteBuffer(string: "0")), .array([])])))
        }
        var nodeCommand = command
        nodeCommand.arguments[0] = .string(cursor.nodeCursor)
        let count = masters.count
        return self.send([nodeCommand], to: masters[cursor.master]).map { answers in
            guard let answer = answers.first else { return .failure(RedisError(.protocol, message: "no reply to SCAN")) }
            return answer.flatMap { reply in
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                    return .failure(RedisError(.protocol, message: "SCAN reply is not [cursor, keys]"))
                }
                let handed = ClusterScanCursor.after(master: cursor.master, next: next, masterCount: count)
                return .success(.array([.bulk(ByteBuffer(string: handed)), parts[1]]))
            }
        }
    }
}
