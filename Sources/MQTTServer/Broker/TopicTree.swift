/// The subscriptions of a broker, indexed for matching PUBLISH topic names
/// against topic filters (MQTT 5.0 §4.7).
///
/// Each entry is a `(filter, key)` pair carrying a `Value`; a key is usually a
/// session and the value its subscription options. A key subscribed through
/// several filters that all match a topic is visited once per matching filter
/// by ``forEachMatch(topic:_:)``: the caller merges them (MQTT 5.0 §3.3.4 lets
/// the server send one message per matching subscription or one in total, with
/// the highest QoS and the subscription identifiers of all of them).
///
/// Filters without wildcards live in one dictionary keyed by the whole filter,
/// so an exact subscription costs one hash lookup of the topic. Filters with a
/// `+` or `#` level live in a trie of levels whose nodes sit in one array;
/// a node keeps its literal children in a dictionary and its `+` and `#`
/// children in their own fields. Matching splits the topic once, into a
/// temporary buffer of `Substring` slices, and walks the trie without
/// recursion, so a deep topic cannot exhaust the stack of an event loop thread.
/// Levels and filters compare by their UTF-8 bytes, never normalized (§4.7.3).
///
/// The tree does not validate: pass filters that passed
/// `MQTTTopic.validateFilter`, with any `$share/<group>/` prefix removed (a
/// shared group can be one entry whose key names the group and whose value
/// is a `SharedGroup` of its members), and topic names that passed
/// `MQTTTopic.validateName`. A level is a wildcard only when it is exactly
/// `+` or `#`; anything else, such as `a+`, is matched literally.
public struct TopicTree<Key: Hashable, Value> {
    /// Subscriptions whose filter has no wildcard level, keyed by filter.
    @usableFromInline
    internal var exact: [TopicKey: [Key: Value]]

    /// The trie of filters that contain `+` or `#`; `nodes[0]` is the root.
    @usableFromInline
    internal var nodes: [Node]

    /// Indices of unused slots in `nodes`, reused before the array grows.
    @usableFromInline
    internal var freeSlots: [Int]

    @usableFromInline
    internal var storedCount: Int

    /// The number of `(filter, key)` pairs in the tree.
    @inlinable
    public var count: Int { self.storedCount }

    /// Creates an empty tree.
    @inlinable
    public init() {
        self.exact = [:]
        self.nodes = [Node()]
        self.freeSlots = []
        self.storedCount = 0
    }

    /// True when the tree holds no subscription.
    @inlinable
    public var isEmpty: Bool { self.count == 0 }

    /// Adds a subscription, or replaces the value of an existing one.
    ///
    /// - Returns: `true` when the `(filter, key)` pair is new, `false` when it
    ///   existed and only its value was replaced.
    @inlinable
    @discardableResult
    public mutating func insert(filter: String, key: Key, value: Value) -> Bool {
        let previous: Value?
        if Self.hasWildcard(filter) {
            var node = 0
            for level in filter.utf8.split(separator: Self.slash, omittingEmptySubsequences: false) {
                node = self.childCreatingIfNeeded(of: node, level: TopicLevel(Substring(level)))
            }
            previous = self.nodes[node].subscribers.updateValue(value, forKey: key)
        } else {
            previous = self.exact[TopicKey(filter), default: [:]].updateValue(value, forKey: key)
        }
        if previous == nil {
            self.storedCount += 1
            return true
        }
        return false
    }

    /// Removes a subscription and prunes the trie nodes it leaves empty.
    ///
    /// - Returns: the value of the removed subscription, or `nil` when the
    ///   `(filter, key)` pair was not in the tree.
    @inlinable
    @discardableResult
    public mutating func remove(filter: String, key: Key) -> Value? {
        guard Self.hasWildcard(filter) else {
            guard let index = self.exact.index(forKey: TopicKey(filter)) else { return nil }
            let removed = self.exact.values[index].removeValue(forKey: key)
            if removed != nil {
                self.storedCount -= 1
                if self.exact.values[index].isEmpty {
                    self.exact.remove(at: index)
                }
            }
            return removed
        }

        let levels = filter.utf8.split(separator: Self.slash, omittingEmptySubsequences: false)
        // path[i] is the node reached after levels[0..<i].
        var path = [0]
        path.reserveCapacity(levels.count + 1)
        for level in levels {
            guard let next = self.child(of: path[path.count - 1], level: TopicLevel(Substring(level))) else { return nil }
            path.append(next)
        }
        guard let removed = self.nodes[path[path.count - 1]].subscribers.removeValue(forKey: key) else {
            return nil
        }
        self.storedCount -= 1

        var depth = levels.count
        while depth > 0, self.nodes[path[depth]].isEmpty {
            self.unlinkChild(of: path[depth - 1], level: TopicLevel(Substring(levels[depth - 1])))
            self.nodes[path[depth]] = Node()
            self.freeSlots.append(path[depth])
            depth -= 1
        }
        return removed
    }

    /// The value subscribed by `key` through exactly `filter`, if any.
    @inlinable
    public func value(filter: String, key: Key) -> Value? {
        guard Self.hasWildcard(filter) else {
            return self.exact[TopicKey(filter)]?[key]
        }
        var node = 0
        for level in filter.utf8.split(separator: Self.slash, omittingEmptySubsequences: false) {
            guard let next = self.child(of: node, level: TopicLevel(Substring(level))) else { return nil }
            node = next
        }
        return self.nodes[node].subscribers[key]
    }

    /// Calls `body` with the key and value of every subscription whose filter
    /// matches the topic name `topic`.
    ///
    /// `+` matches one level, possibly empty; `#` matches any number of levels,
    /// including none, so `a/#` matches `a` (§4.7.1). Filters starting with `+`
    /// or `#` do not match topics whose first level starts with `$` (§4.7.2).
    /// A key whose filters overlap is visited once for each matching filter;
    /// the order of visits is unspecified.
    @inlinable
    public func forEachMatch(topic: String, _ body: (Key, Value) -> Void) {
        if let subscribers = self.exact[TopicKey(topic)] {
            for (key, value) in subscribers {
                body(key, value)
            }
        }
        if self.nodes[0].isEmpty {
            return
        }
        self.forEachWildcardMatch(topic: topic, body)
    }

    /// Matches `topic` against the filters in the trie.
    @inlinable
    internal func forEachWildcardMatch(topic: String, _ body: (Key, Value) -> Void) {
        let utf8 = topic.utf8
        var levelCount = 1
        for byte in utf8 where byte == Self.slash {
            levelCount += 1
        }
        let dollar = utf8.first == UInt8(ascii: "$")

        withUnsafeTemporaryAllocation(of: TopicLevel.self, capacity: levelCount) { levels in
            var filled = 0
            var start = utf8.startIndex
            var index = start
            while index != utf8.endIndex {
                if utf8[index] == Self.slash {
                    levels.initializeElement(at: filled, to: TopicLevel(topic[start..<index]))
                    filled += 1
                    start = utf8.index(after: index)
                }
                index = utf8.index(after: index)
            }
            levels.initializeElement(at: filled, to: TopicLevel(topic[start..<utf8.endIndex]))
            defer { _ = levels.deinitialize() }

            // A depth-first walk. Each step pops one node and pushes at most two
            // nodes one level deeper, so the stack never exceeds levelCount + 1.
            withUnsafeTemporaryAllocation(of: (node: Int, depth: Int).self, capacity: levelCount + 1) { stack in
                stack.initializeElement(at: 0, to: (node: 0, depth: 0))
                var top = 1
                while top > 0 {
                    top -= 1
                    let (node, depth) = stack[top]
                    // `+` and `#` at the first level skip topics starting with `$`.
                    let wildcardsAllowed = depth > 0 || !dollar

                    if wildcardsAllowed, let hash = self.nodes[node].hash {
                        for (key, value) in self.nodes[hash].subscribers {
                            body(key, value)
                        }
                    }
                    if depth == levelCount {
                        for (key, value) in self.nodes[node].subscribers {
                            body(key, value)
                        }
                        continue
                    }
                    if let child = self.nodes[node].children[levels[depth]] {
                        stack.initializeElement(at: top, to: (node: child, depth: depth + 1))
                        top += 1
                    }
                    if wildcardsAllowed, let plus = self.nodes[node].plus {
                        stack.initializeElement(at: top, to: (node: plus, depth: depth + 1))
                        top += 1
                    }
                }
            }
        }
    }
}

extension TopicTree {
    /// One level of the wildcard trie.
    @usableFromInline
    internal struct Node {
        /// Children reached through a literal level.
        @usableFromInline
        internal var children: [TopicLevel: Int] = [:]
        /// The child reached through a `+` level.
        @usableFromInline
        internal var plus: Int? = nil
        /// The child reached through a `#` level.
        @usableFromInline
        internal var hash: Int? = nil
        /// The subscriptions whose filter ends at this node.
        @usableFromInline
        internal var subscribers: [Key: Value] = [:]

        @inlinable
        internal init() {}

        @inlinable
        internal var isEmpty: Bool {
            self.subscribers.isEmpty && self.children.isEmpty && self.plus == nil && self.hash == nil
        }
    }

    @usableFromInline
    internal static var slash: UInt8 { UInt8(ascii: "/") }

    @usableFromInline
    internal static var plusByte: UInt8 { UInt8(ascii: "+") }

    @usableFromInline
    internal static var hashByte: UInt8 { UInt8(ascii: "#") }

    /// True when some level of `filter` could be a wildcard. Any filter that
    /// contains `+` or `#` goes to the trie, which matches such levels
    /// literally unless they are exactly `+` or `#`.
    @inlinable
    internal static func hasWildcard(_ filter: String) -> Bool {
        filter.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }
    }

    @inlinable
    internal func child(of node: Int, level: TopicLevel) -> Int? {
        if level.isSingleByte(Self.plusByte) {
            return self.nodes[node].plus
        } else if level.isSingleByte(Self.hashByte) {
            return self.nodes[node].hash
        } else {
            return self.nodes[node].children[level]
        }
    }

    @inlinable
    internal mutating func childCreatingIfNeeded(of node: Int, level: TopicLevel) -> Int {
        if let existing = self.child(of: node, level: level) {
            return existing
        }
        let created: Int
        if let slot = self.freeSlots.popLast() {
            created = slot
        } else {
            created = self.nodes.count
            self.nodes.append(Node())
        }
        if level.isSingleByte(Self.plusByte) {
            self.nodes[node].plus = created
        } else if level.isSingleByte(Self.hashByte) {
            self.nodes[node].hash = created
        } else {
            self.nodes[node].children[TopicLevel(copying: level.text)] = created
        }
        return created
    }

    @inlinable
    internal mutating func unlinkChild(of node: Int, level: TopicLevel) {
        if level.isSingleByte(Self.plusByte) {
            self.nodes[node].plus = nil
        } else if level.isSingleByte(Self.hashByte) {
            self.nodes[node].hash = nil
        } else {
            self.nodes[node].children[level] = nil
        }
    }

    /// The number of trie nodes in use, the root included (for tests).
    internal var trieNodeCount: Int {
        self.nodes.count - self.freeSlots.count
    }
}

extension TopicTree: Sendable where Key: Sendable, Value: Sendable {}
extension TopicTree.Node: Sendable where Key: Sendable, Value: Sendable {}
