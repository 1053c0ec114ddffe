/// The members of one shared subscription group, `$share/<group>/<filter>`
/// (MQTT 5.0 §4.8.2), served in turn: each message matching the group's
/// filter goes to one member, chosen by ``next()``.
///
/// Choice goes in rounds: each round serves every member once, in an order
/// that only removals change, so with a stable membership no member gets
/// more than one message more than another. A member that joins mid-round is
/// served in that round; one that leaves is never returned again, and its
/// removal neither skips nor repeats anyone in the current round. `insert`,
/// `remove` and `next` are O(1) amortized.
///
/// A router can keep one group per `(group name, filter)` pair and subscribe
/// the group name in a ``TopicTree`` with the plain filter.
public struct SharedGroup<Key: Hashable, Value> {
    /// Members in serving order. Those before `cursor` have been served in the
    /// current round, those from `cursor` on have not.
    private var members: [(key: Key, value: Value)]

    /// The position of each key in `members`.
    private var positions: [Key: Int]

    /// The position of the next member to serve.
    private var cursor: Int

    /// Creates an empty group.
    public init() {
        self.members = []
        self.positions = [:]
        self.cursor = 0
    }

    /// The number of members.
    public var count: Int { self.members.count }

    /// True when the group has no member.
    public var isEmpty: Bool { self.members.isEmpty }

    /// Adds a member, or replaces the value of an existing one without
    /// changing its turn.
    ///
    /// - Returns: `true` when `key` is a new member.
    @discardableResult
    public mutating func insert(key: Key, value: Value) -> Bool {
        if let position = self.positions[key] {
            self.members[position].value = value
            return false
        }
        self.positions[key] = self.members.count
        self.members.append((key: key, value: value))
        return true
    }

    /// Removes a member.
    ///
    /// - Returns: the member's value, or `nil` when `key` is not a member.
    @discardableResult
    public mutating func remove(key: Key) -> Value? {
        guard let position = self.positions.removeValue(forKey: key) else { return nil }
        let removed = self.members[position].value
        let last = self.members.count - 1

        if position < self.cursor {
            // Served this round: fill the hole with the last served member,
            // and that member's slot with the last unserved one, which then
            // sits at the new cursor.
            let lastServed = self.cursor - 1
            self.move(from: lastServed, to: position)
            self.move(from: last, to: lastServed)
            self.cursor -= 1
        } else {
            // Not served yet: the last member, also unserved, takes its slot.
            self.move(from: last, to: position)
        }
        self.members.removeLast()
        return removed
    }

    /// The value of member `key`, if it is one.
    public func value(key: Key) -> Value? {
        self.positions[key].map { self.members[$0].value }
    }

    /// The member whose turn it is, or `nil` when the group is empty.
    public mutating func next() -> (key: Key, value: Value)? {
        if self.members.isEmpty {
            return nil
        }
        if self.cursor >= self.members.count {
            self.cursor = 0
        }
        let chosen = self.members[self.cursor]
        self.cursor += 1
        return chosen
    }

    /// Calls `body` with every member, in no particular order.
    public func forEach(_ body: (Key, Value) -> Void) {
        for member in self.members {
            body(member.key, member.value)
        }
    }

    /// Moves the member at `source` to `destination`, overwriting it.
    private mutating func move(from source: Int, to destination: Int) {
        guard source != destination else { return }
        self.members[destination] = self.members[source]
        self.positions[self.members[destination].key] = destination
    }
}

extension SharedGroup: Sendable where Key: Sendable, Value: Sendable {}
