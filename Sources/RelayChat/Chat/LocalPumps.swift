import MQTTServer
import NIOConcurrencyHelpers
import RelayCore

/// The pumps of the devices connected to this node, by device, and the
/// hand-off from the store to them: what the store has just written for a
/// device (a message marked for it, an entry on its queue) is offered to the
/// device's pump here, which hands it to the session without reading it
/// back from Redis when it is the next thing the device is due
/// (docs/decisions/0008). Redis stays the record: a pump that cannot take
/// an offer reads the store as before, woken by the store's Pub/Sub.
final class LocalPumps: Sendable {
    private struct Registry {
        var byDevice: [String: DevicePump] = [:]
        var devicesByUser: [String: UserDevices] = [:]
        /// Compact deliveries of a session whose connection ended, kept
        /// until the session is resumed (its next pump adopts them) or ends
        /// (docs/decisions/0030).
        var parked: [String: Parked] = [:]
    }

    private struct Parked {
        let session: MQTTSession
        let compact: CompactSession
    }

    /// A user's devices connected here: most users have one, kept without
    /// a set of its own (a set's storage is ~100 bytes per connected user).
    enum UserDevices: Sendable, Equatable {
        case one(String)
        case many(Set<String>)

        /// These devices and `device`.
        func inserting(_ device: String) -> UserDevices {
            switch self {
            case .one(let only): return only == device ? self : .many([only, device])
            case .many(let devices): return .many(devices.union([device]))
            }
        }

        /// These devices without `device`; nil when none is left.
        func removing(_ device: String) -> UserDevices? {
            switch self {
            case .one(let only): return only == device ? nil : self
            case .many(var devices):
                devices.remove(device)
                if devices.count == 1, let last = devices.first { return .one(last) }
                return devices.isEmpty ? nil : .many(devices)
            }
        }

        /// The devices, in no particular order.
        var all: [String] {
            switch self {
            case .one(let only): return [only]
            case .many(let devices): return Array(devices)
            }
        }
    }

    private let registry = NIOLockedValueBox(Registry())

    /// The pump of `device`, if it is connected here.
    subscript(device: String) -> DevicePump? {
        registry.withLockedValue { $0.byDevice[device] }
    }

    /// Makes `pump` its device's pump; returns the one it replaces. A pump
    /// of the same MQTT session (resumed) hands its compact deliveries on.
    func register(_ pump: DevicePump) -> DevicePump? {
        let (replaced, compact) = registry.withLockedValue { r -> (DevicePump?, CompactSession?) in
            let replaced = r.byDevice[pump.device]
            let parked = r.parked.removeValue(forKey: pump.device)
            r.byDevice[pump.device] = pump
            r.devicesByUser[pump.user] = r.devicesByUser[pump.user]?.inserting(pump.device) ?? .one(pump.device)
            if let replaced, replaced.session === pump.session { return (replaced, replaced.compactSession) }
            return (replaced, parked.flatMap { $0.session === pump.session ? $0.compact : nil })
        }
        if let compact { pump.adopt(compact) }
        return replaced
    }

    /// Removes `device`'s pump if `isCurrent` says it is the one to remove
    /// (not a newer connection's). Its compact deliveries are kept for the
    /// session's next pump until ``sessionEnded(_:device:)``.
    func remove(device: String, if isCurrent: (DevicePump) -> Bool) -> DevicePump? {
        registry.withLockedValue { r in
            guard let pump = r.byDevice[device], isCurrent(pump) else { return nil }
            r.byDevice[device] = nil
            r.devicesByUser[pump.user] = r.devicesByUser[pump.user]?.removing(device)
            if let compact = pump.compactSession {
                r.parked[device] = Parked(session: pump.session, compact: compact)
            }
            return pump
        }
    }

    /// `session` of `device` ended: it is never resumed, and its compact
    /// deliveries go.
    func sessionEnded(_ session: MQTTSession, device: String) {
        registry.withLockedValue { r in
            if r.parked[device]?.session === session { r.parked[device] = nil }
        }
    }

    /// Every pump on this node.
    var all: [DevicePump] {
        registry.withLockedValue { Array($0.byDevice.values) }
    }

    /// Pumps of those of `devices` connected here.
    func pumps(of devices: some Sequence<String>) -> [DevicePump] {
        registry.withLockedValue { r in devices.compactMap { r.byDevice[$0] } }
    }

    /// `message` was just stored for `users` (a conversation's members,
    /// its sender among them): the pumps of their devices connected here
    /// are offered it (the sender's own device steps over it). Its marks in
    /// the store may land before or after.
    func offer(_ message: Relay_V1_ReplicatedMessage, toUsers users: some Sequence<String>) {
        let pumps = registry.withLockedValue { r in
            users.flatMap { user in (r.devicesByUser[user]?.all ?? []).compactMap { r.byDevice[$0] } }
        }
        guard !pumps.isEmpty else { return }
        let offered = OfferedMessage(message)  // read and encoded once for them all
        for pump in pumps { pump.offer(offered) }
    }

    /// `conversation` continues under a new epoch from `seq` for `devices`,
    /// whose cursors were moved back: their pumps here read it again.
    func rewind(_ conversation: String, to seq: UInt64, devices: [String]) {
        for pump in pumps(of: devices) { pump.rewind(conversation, to: seq) }
    }

    /// `entries` were just put on `device`'s queue at `positions` (0: it was
    /// there already).
    func offer(entries: [[UInt8]], positions: [Int], to device: String) {
        guard let pump = self[device] else { return }
        for (entry, position) in zip(entries, positions) where position > 0 {
            pump.offer(entry: entry, at: position)
        }
    }
}
