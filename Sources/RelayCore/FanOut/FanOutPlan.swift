#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A conversation member and the devices the directory lists for them.
public struct MemberDevices: Hashable, Sendable {
    /// The member.
    public var user: UserID
    /// The member's devices, in the order deliveries are planned.
    public var devices: [DeviceID]

    /// A member with `devices`.
    public init(user: UserID, devices: [DeviceID]) {
        self.user = user
        self.devices = devices
    }
}

/// A device of a user: the address of one delivery.
public struct DeviceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The device's user.
    public var user: UserID
    /// The device.
    public var device: DeviceID

    /// The address of `device` of `user`.
    public init(user: UserID, device: DeviceID) {
        self.user = user
        self.device = device
    }

    /// `user/device`.
    public var description: String { "\(user)/\(device)" }
}

/// What the fan-out planner needs of a stored message: who sent it and its
/// ciphertexts.
public struct FanOutMessage: Hashable, Sendable {
    /// The sending user.
    public var sender: UserID
    /// The sending device; it never gets its own message back.
    public var senderDevice: DeviceID
    /// The ciphertext for every device without its own (sender keys); nil
    /// when there is none.
    public var sharedCiphertext: Data?
    /// A ciphertext per recipient device (pairwise sessions).
    public var deviceCiphertexts: [DeviceID: Data]

    /// A message to plan. An empty `sharedCiphertext` counts as none.
    public init(
        sender: UserID,
        senderDevice: DeviceID,
        sharedCiphertext: Data?,
        deviceCiphertexts: [DeviceID: Data] = [:]
    ) {
        self.sender = sender
        self.senderDevice = senderDevice
        self.sharedCiphertext = sharedCiphertext.flatMap { $0.isEmpty ? nil : $0 }
        self.deviceCiphertexts = deviceCiphertexts
    }
}

/// Which of a message's ciphertexts a delivery carries.
public enum CiphertextSource: Hashable, Sendable {
    /// The message's shared ciphertext: the store keeps it once and the
    /// device's queue holds a reference.
    case shared
    /// The device's own entry of `device_ciphertexts`.
    case device
}

/// One device's copy of a message.
public struct PlannedDelivery: Hashable, Sendable {
    /// Who gets it.
    public var address: DeviceAddress
    /// Where its ciphertext comes from.
    public var source: CiphertextSource
    /// The ciphertext it carries (shares storage with the message's `Data`).
    public var ciphertext: Data

    /// A delivery of `ciphertext` from `source` to `address`.
    public init(address: DeviceAddress, source: CiphertextSource, ciphertext: Data) {
        self.address = address
        self.source = source
        self.ciphertext = ciphertext
    }
}

/// The outcome of planning one message's fan-out: who gets what, and what
/// could not be planned. Nothing is skipped silently.
public struct FanOutPlan: Hashable, Sendable {
    /// One delivery per member device except the sending one, in member
    /// order then device order.
    public var deliveries: [PlannedDelivery]
    /// Member devices that have neither their own ciphertext nor a shared one:
    /// the sender's device list is stale (or the message was addressed
    /// pairwise and forgot one).
    public var devicesWithoutCiphertext: [DeviceAddress]
    /// Devices named in `device_ciphertexts` that are not member devices
    /// (removed devices, or a stale list), sorted; their ciphertexts are not
    /// delivered.
    public var unknownDevices: [DeviceID]

    /// True when every member device (but the sender's) gets a ciphertext and
    /// every per-device ciphertext found its device.
    public var isExact: Bool { devicesWithoutCiphertext.isEmpty && unknownDevices.isEmpty }

    /// Throws ``FanOutError/staleDevices(missing:unknown:)`` unless some
    /// device lacks a ciphertext. Unknown devices alone are tolerated: their
    /// ciphertexts are dropped, no member misses anything.
    public func requireEveryDeviceCovered() throws(FanOutError) {
        if !devicesWithoutCiphertext.isEmpty {
            throw .staleDevices(missing: devicesWithoutCiphertext, unknown: unknownDevices)
        }
    }
}

/// Why a message cannot be fanned out.
public enum FanOutError: RelayRefusal, Hashable {
    /// The sender is not a member of the conversation.
    case senderNotMember
    /// The conversation has more members than the region allows.
    case groupTooLarge(members: Int, limit: Int)
    /// A member has more devices than the region allows.
    case tooManyDevices(user: UserID, devices: Int, limit: Int)
    /// Some member devices would get no ciphertext; the client should refresh
    /// its device lists (`keys.fetch`) and send again.
    case staleDevices(missing: [DeviceAddress], unknown: [DeviceID])

    /// `not_member`, `group_full`, `too_many_devices` or `stale_devices`.
    public var code: ErrorCode {
        switch self {
        case .senderNotMember: return .notMember
        case .groupTooLarge: return .groupFull
        case .tooManyDevices: return .tooManyDevices
        case .staleDevices: return .staleDevices
        }
    }

    /// 0x87 Not authorized for a non-member, 0x83 Implementation specific
    /// error otherwise (the error code says which).
    public var reasonCode: UInt8 {
        switch self {
        case .senderNotMember: return RefusalReasonCode.notAuthorized
        case .groupTooLarge, .tooManyDevices, .staleDevices: return RefusalReasonCode.implementationSpecificError
        }
    }

    /// A one-line explanation.
    public var message: String {
        switch self {
        case .senderNotMember:
            return "not a member of this conversation"
        case .groupTooLarge(let members, let limit):
            return "conversation has \(members) members; at most \(limit) allowed"
        case .tooManyDevices(let user, let devices, let limit):
            return "user \(user) has \(devices) devices; at most \(limit) allowed"
        case .staleDevices(let missing, let unknown):
            let missingList = missing.map(\.description).joined(separator: ",")
            let unknownList = unknown.map(\.rawValue).joined(separator: ",")
            return "no ciphertext for [\(missingList)]; unknown devices [\(unknownList)]"
        }
    }
}
