/// The retained messages of a broker, one per topic name, indexed for
/// delivery to new subscriptions (MQTT 5.0 §3.3.1.3).
///
/// Topics are kept in a trie of levels, so matching a filter follows its
/// levels: `a/+/c` visits the children of `a` and then one `c` under each,
/// never the whole store. Topics and levels compare by their UTF-8 bytes,
/// never normalized (§4.7.3).
///
/// The store does not interpret messages: the caller removes a topic when a
/// retained PUBLISH has an empty payload (§3.3.1.3), and checks topic names
/// (`MQTTTopic.validateName`) and filters (`MQTTTopic.validateFilter`, with
/// any `$share/<group>/` prefix removed) before calling in.
public struct RetainedMessageStore<Message> {
    /// The trie of topic levels; `nodes[0]` is the root.
    private var nodes: [Node]

    /// Indices of unused slots in `nodes`, reused before the array grows.
    private var freeSlots: [Int]

    private var storedCount: Int

    /// Creates an empty store.
    public init() {
        self.nodes = [Node()]
        self.freeSlots = []
        self.storedCount = 0
    }

    /// The number of retained messages.
    public var count: Int { self.storedCount }

    /// True when no message is retained.
    public var isEmpty: Bool { self.storedCount == 0 }

    /// Retains `message` for `topic`, replacing any message retained before.
    public mutating func set(topic: String, message: Message) {
        var node = 0
        for level in topic.utf8.split(separator: Self.slash, omittingEmptySubsequences: false) {
            node = self.childCreatingIfNeeded(of: node, level: TopicLevel(Substring(level)))
        }
        if self.nodes[node].retained == nil {
            self.storedCount += 1
        }
        self.nodes[node].retained = (topic: topic, message: message)
    }

    /// Drops the message retained for `topic` and prunes the trie nodes it
    /// leaves empty.
    ///
    /// - Returns: the message that was retained, or `nil` when there was none.
    @discardableResult
    public mutating func remove(topic: String) -> Message? {
        let levels = topic.utf8.split(separator: Self.slash, omittingEmptySubsequences: false)
        // path[i] is the node reached after levels[0..<i].
        var path = [0]
        path.reserveCapacity(levels.count + 1)
        for level in levels {
            guard let next = self.nodes[path[path.count - 1]].children[TopicLevel(Substring(level))] else {
                return nil
            }
            path.append(next)
        }
        guard let removed = self.nodes[path[levels.count]].retained else { return nil }
        self.nodes[path[levels.count]].retained = nil
        self.storedCount -= 1

        var depth = levels.count
        while depth > 0, self.nodes[path[depth]].isEmpty {
            self.nodes[path[depth - 1]].children[TopicLevel(Substring(levels[depth - 1]))] = nil
            self.nodes[path[depth]] = Node()
            self.freeSlots.append(path[depth])
            depth -= 1
        }
        return removed.message
    }

    /// The message retained for exactly `topic`, if any.
    public func message(topic: String) -> Message? {
        self.node(topic: topic).flatMap { self.nodes[$0].retained?.message }
    }

    /// Calls `body` with the topic and message of every retained message whose
    /// topic matches `filter`.
    ///
    /// `+` matches one level, possibly empty; `#` matches any number of levels,
    /// including none, so `a/#` matches `a` (§4.7.1). Filters starting with `+`
    /// or `#` do not match topics whose first level starts with `$` (§4.7.2).
    /// The order of visits is unspecified.
    public func forEachMatch(filter: String, _ body: (String, Message) -> Void) {
        let utf8 = filter.utf8
        guard utf8.contains(where: { $0 == Self.plusByte || $0 == Self.hashByte }) else {
            if let node = self.node(topic: filter), let retained = self.nodes[node].retained {
                body(retained.topic, retained.message)
            }
            return
        }

        let levels = utf8.split(separator: Self.slash, omittingEmptySubsequences: false).map {
            TopicLevel(Substring($0))
        }
        // A depth of `wholeSubtree` marks a node below a `#`: it and all its
        // descendants match.
        let wholeSubtree = -1
        var stack: [(node: Int, depth: Int)] = [(node: 0, depth: 0)]
        while let (node, depth) = stack.popLast() {
            if depth == wholeSubtree || depth == levels.count {
                if let retained = self.nodes[node].retained {
                    body(retained.topic, retained.message)
                }
                if depth == wholeSubtree {
                    for child in self.nodes[node].children.values {
                        stack.append((node: child, depth: wholeSubtree))
                    }
                }
                continue
            }

            let level = levels[depth]
            if level.isSingleByte(Self.hashByte) {
                // `#` also matches the parent level: `a/#` matches `a`. The
                // root stands for no topic, so it never holds a message.
                if let retained = self.nodes[node].retained {
                    body(retained.topic, retained.message)
                }
                for (name, child) in self.nodes[node].children where depth > 0 || !name.startsWithDollar {
                    stack.append((node: child, depth: wholeSubtree))
                }
            } else if level.isSingleByte(Self.plusByte) {
                for (name, child) in self.nodes[node].children where depth > 0 || !name.startsWithDollar {
                    stack.append((node: child, depth: depth + 1))
                }
            } else if let child = self.nodes[node].children[level] {
                stack.append((node: child, depth: depth + 1))
            }
        }
    }
}

extension RetainedMessageStore {
    /// One level of the topic trie.
    struct Node {
        /// Children by topic level.
        var children: [TopicLevel: Int] = [:]
        /// The message retained for the topic that ends at this node.
        var retained: (topic: String, message: Message)? = nil

        init() {}

        var isEmpty: Bool {
            self.retained == nil && self.children.isEmpty
        }
    }

    private static var slash: UInt8 { UInt8(ascii: "/") }

    private static var plusByte: UInt8 { UInt8(ascii: "+") }

    private static var hashByte: UInt8 { UInt8(ascii: "#") }

    /// The node at the end of `topic`'s levels, if the trie has one.
    private func node(topic: String) -> Int? {
        var node = 0
        for level in topic.utf8.split(separator: Self.slash, omittingEmptySubsequences: false) {
            guard let next = self.nodes[node].children[TopicLevel(Substring(level))] else { return nil }
            node = next
        }
        return node
    }

    private mutating func childCreatingIfNeeded(of node: Int, level: TopicLevel) -> Int {
        if let existing = self.nodes[node].children[level] {
            return existing
        }
        let created: Int
        if let slot = self.freeSlots.popLast() {
            created = slot
        } else {
            created = self.nodes.count
            self.nodes.append(Node())
        }
        self.nodes[node].children[TopicLevel(copying: level.text)] = created
        return created
    }

    /// The number of trie nodes in use, the root included (for tests).
    internal var trieNodeCount: Int {
        self.nodes.count - self.freeSlots.count
    }
}

extension RetainedMessageStore: Sendable where Message: Sendable {}
extension RetainedMessageStore.Node: Sendable where Message: Sendable {}
