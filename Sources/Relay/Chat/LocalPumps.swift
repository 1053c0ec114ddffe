import Foundation
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
    private let pumps = NIOLockedValueBox<[String: DevicePump]>([:])

    /// The pump of `device`, if it is connected here.
    subscript(device: String) -> DevicePump? {
        pumps.withLockedValue { $0[device] }
    }

    /// Makes `pump` its device's pump; returns the one it replaces.
    func register(_ pump: DevicePump) -> DevicePump? {
        pumps.withLockedValue { pumps in
            defer { pumps[pump.device] = pump }
            return pumps[pump.device]
        }
    }

    /// Removes `session`'s pump of `device` (not a newer connection's).
    func remove(device: String, if isCurrent: (DevicePump) -> Bool) -> DevicePump? {
        pumps.withLockedValue { pumps in
            guard let pump = pumps[device], isCurrent(pump) else { return nil }
            pumps[device] = nil
            return pump
        }
    }

    /// Every pump on this node.
    var all: [DevicePump] {
        pumps.withLockedValue { Array($0.values) }
    }

    /// Pumps of those of `devices` connected here.
    func pumps(of devices: some Sequence<String>) -> [DevicePump] {
        pumps.withLockedValue { pumps in devices.compactMap { pumps[$0] } }
    }

    /// `message` was just stored and marked for `devices`: each of them
    /// connected here is offered it, and so is its sender's device (whose
    /// pump steps over its own message).
    func offer(_ message: Relay_V1_ReplicatedMessage, to devices: [String]) {
        for pump in pumps(of: devices + [message.device]) {
            pump.offer(message)
        }
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
