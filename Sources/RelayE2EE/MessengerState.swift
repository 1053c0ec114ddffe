import Foundation
import Signal

/// What `SecureMessenger` keeps besides the Signal stores, in the same
/// state directory (record `app.state`, JSON): key upload bookkeeping, the
/// devices known per user, each group's members and who has this device's
/// current sender key, and the last messages sent (to answer retry
/// requests; plaintext, which is why the directory is the owner's only).
struct MessengerState: Codable, Sendable, Equatable {
    /// The keys were uploaded once (first run is over).
    var keysUploaded = false
    /// The id of the next one-time prekey to generate.
    var nextPreKeyID: UInt32 = 1
    /// The current signed prekey.
    var signedPreKeyID: UInt32 = 0
    /// When it was made (ms since the Unix epoch).
    var signedPreKeyCreatedMs: UInt64 = 0
    /// Devices known per user (with a session, or learned from a bundle or a delivery).
    var devices: [String: [String]] = [:]
    /// Groups by conversation id.
    var groups: [String: GroupState] = [:]
    /// The newest sent messages, oldest first.
    var outbox: [SentMessage] = []

    struct GroupState: Codable, Sendable, Equatable {
        /// Member users as last learned (group answers, membership deliveries).
        var members: [String] = []
        /// Devices (`user/device`) that have this device's current sender key.
        var distributedTo: [String] = []
        /// A member or device left: start a new sender key before the next send.
        var rotate = false
    }

    struct SentMessage: Codable, Sendable, Equatable {
        var conversation: String
        var clientMessageID: String
        var body: Data
        var resends: Int = 0
    }

    static let recordName = "app.state"

    static func load(from storage: any RecordStorage) throws -> MessengerState {
        guard let data = try storage.read(recordName) else { return MessengerState() }
        return try JSONDecoder().decode(MessengerState.self, from: data)
    }

    func save(to storage: any RecordStorage) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try storage.write(encoder.encode(self), to: Self.recordName)
    }

    /// Adds `devices` to what is known of `user`.
    mutating func learn(_ devices: [String], of user: String) {
        let known = self.devices[user] ?? []
        self.devices[user] = known + devices.filter { !known.contains($0) }.sorted()
    }

    /// Applies a membership change of `group`; a member leaving or removed
    /// makes this device rotate its sender key before its next send.
    mutating func apply(_ event: MembershipChange, group: String) {
        var state = groups[group] ?? GroupState()
        switch event {
        case .members(let users):
            let before = Set(state.members)
            state.members = users.sorted()
            if !before.subtracting(users).isEmpty { state.rotate = true }
        case .added(let users):
            state.members = Array(Set(state.members).union(users)).sorted()
        case .removed(let users):
            state.members = state.members.filter { !users.contains($0) }
            state.rotate = true
        }
        groups[group] = state
    }

    /// Remembers a sent message for retry requests; the oldest go past `limit`.
    mutating func remember(_ message: SentMessage, limit: Int) {
        outbox.append(message)
        if outbox.count > limit { outbox.removeFirst(outbox.count - limit) }
    }
}

/// A change of a group's membership, as the messenger tracks it.
enum MembershipChange: Sendable, Equatable {
    /// The whole member list (a group answer, or a group's creation).
    case members(Set<String>)
    /// Users joined.
    case added(Set<String>)
    /// Users left or were removed.
    case removed(Set<String>)
}
