/// How the commands of one request are split over a cluster's nodes, and
/// how their results are put back in the request's order.
///
/// Each command goes to the node of its slot. A command with no key goes
/// with the command before it (so a `WAIT` runs on the connection of the
/// write it waits for), or, at the head of a request, with the first
/// command that has a key; a request with no key at all goes to
/// `fallback`. Commands for one node keep their relative order and are
/// sent as one request there. A command whose keys span slots, or whose
/// slot has no node, fails at once with `CROSSSLOT` or `CLUSTERDOWN`
/// without being sent.
public struct ClusterPipelinePlan<Node: Hashable & Sendable>: Sendable {
    /// The commands of one request that go to one node.
    public struct Batch: Sendable {
        /// Where they go.
        public var node: Node
        /// Their indices in the request, ascending.
        public var indices: [Int]
    }

    /// The batches, in the order of their first command.
    public private(set) var batches: [Batch] = []
    /// Commands that fail without being sent, with their error.
    public private(set) var refused: [(index: Int, error: RedisError)] = []
    /// How many commands the request has.
    public let count: Int

    /// Plans `routes` (one per command, in order); `node` names the node of
    /// a slot (nil: none known), `fallback` the node for a request with no key.
    public init(routes: [CommandRoute], fallback: Node?, node: (HashSlot) -> Node?) {
        self.count = routes.count
        var targets: [Node?] = Array(repeating: nil, count: routes.count)
        var previous: Node? = nil
        var leading: [Int] = []
        for (index, route) in routes.enumerated() {
            switch route {
            case .crossSlot:
                self.refused.append((index, RedisError(.server("CROSSSLOT"), message: "Keys in request don't hash to the same slot")))
            case .slot(let slot):
                guard let target = node(slot) else {
                    self.refused.append((index, RedisError(.server("CLUSTERDOWN"), message: "no node is known for slot \(slot.value)")))
                    continue
                }
                targets[index] = target
                if previous == nil { for waiting in leading { targets[waiting] = target } }
                leading = []
                previous = target
            case .anyNode:
                if let previous { targets[index] = previous } else { leading.append(index) }
            }
        }
        for index in leading {
            if let fallback {
                targets[index] = fallback
            } else {
                self.refused.append((index, RedisError(.server("CLUSTERDOWN"), message: "no node of the cluster is known")))
            }
        }
        self.refused.sort { $0.index < $1.index }
        var position: [Node: Int] = [:]
        for (index, target) in targets.enumerated() {
            guard let target else { continue }
            if let at = position[target] {
                self.batches[at].indices.append(index)
            } else {
                position[target] = self.batches.count
                self.batches.append(Batch(node: target, indices: [index]))
            }
        }
    }

    /// The request's results in its order, from each batch's results (in
    /// the batch's order, one per index; `batchResults[i]` answers
    /// `batches[i]`) and the refused commands' errors.
    public func reassemble(_ batchResults: [[Result<RESPValue, RedisError>]]) -> [Result<RESPValue, RedisError>] {
        var results: [Result<RESPValue, RedisError>] = Array(
            repeating: .failure(RedisError(.protocol, message: "no reply for this command")), count: self.count)
        for (batch, answers) in zip(self.batches, batchResults) {
            for (index, answer) in zip(batch.indices, answers) { results[index] = answer }
        }
        for (index, error) in self.refused { results[index] = .failure(error) }
        return results
    }
}
