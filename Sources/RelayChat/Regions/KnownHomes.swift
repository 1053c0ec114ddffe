import NIOConcurrencyHelpers

/// The directory entries a node has seen, in memory. Entries of the
/// directory are written once and never change (``Directory``), so what was
/// read is still true; only what was never seen is asked of Redis. Bounded:
/// past `capacity` entries of a kind, that kind is forgotten and filled again
/// from Redis as it is used.
final class KnownHomes: Sendable {
    /// Entries kept per kind (users, conversations) before starting over.
    let capacity: Int
    private let state = NIOLockedValueBox<(users: [String: String], conversations: [String: String])>(([:], [:]))

    init(capacity: Int = 200_000) {
        self.capacity = max(1, capacity)
    }

    /// The known homes among `users`, and the users not known.
    func users(_ users: [String]) -> (found: [String: String], missing: [String]) {
        state.withLockedValue { state in
            var found: [String: String] = [:]
            var missing: [String] = []
            for user in users {
                if let home = state.users[user] { found[user] = home } else { missing.append(user) }
            }
            return (found, missing)
        }
    }

    /// The known home of `conversation`.
    func conversation(_ conversation: String) -> String? {
        state.withLockedValue { $0.conversations[conversation] }
    }

    /// Remembers homes read from or written to the directory.
    func learn(users: [String: String]) {
        guard !users.isEmpty else { return }
        state.withLockedValue { state in
            if state.users.count + users.count > capacity { state.users = [:] }
            state.users.merge(users) { old, _ in old }
        }
    }

    /// Remembers conversation homes read from or written to the directory.
    func learn(conversations: [String: String]) {
        guard !conversations.isEmpty else { return }
        state.withLockedValue { state in
            if state.conversations.count + conversations.count > capacity { state.conversations = [:] }
            state.conversations.merge(conversations) { old, _ in old }
        }
    }

    /// How many entries are known (users, conversations).
    var counts: (users: Int, conversations: Int) {
        state.withLockedValue { ($0.users.count, $0.conversations.count) }
    }
}
