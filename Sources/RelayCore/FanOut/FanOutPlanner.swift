/// Plans who gets a message: every device of every member, the sender's other
/// devices included, never the sending device itself. Each device gets its
/// own entry of `device_ciphertexts` if there is one, else the shared
/// ciphertext; a device with neither is reported in
/// ``FanOutPlan/devicesWithoutCiphertext``.
public struct FanOutPlanner: Hashable, Sendable {
    /// Group size and devices-per-user limits.
    public var limits: MembershipLimits

    /// A planner with `limits`.
    public init(limits: MembershipLimits = MembershipLimits()) {
        self.limits = limits
    }

    /// Plans `message` to `members`. A user or device listed twice gets one
    /// delivery.
    public func plan(_ message: FanOutMessage, members: [MemberDevices]) throws(FanOutError) -> FanOutPlan {
        var seenUsers = Set<UserID>()
        seenUsers.reserveCapacity(members.count)
        var distinctMembers: [MemberDevices] = []
        distinctMembers.reserveCapacity(members.count)
        for member in members where seenUsers.insert(member.user).inserted {
            distinctMembers.append(member)
        }
        guard seenUsers.contains(message.sender) else { throw .senderNotMember }
        guard distinctMembers.count <= limits.maximumGroupMembers else {
            throw .groupTooLarge(members: distinctMembers.count, limit: limits.maximumGroupMembers)
        }

        var deliveries: [PlannedDelivery] = []
        var missing: [DeviceAddress] = []
        var seenDevices = Set<DeviceID>()
        for member in distinctMembers {
            let devices = member.devices.filter { seenDevices.insert($0).inserted }
            guard devices.count <= limits.maximumDevicesPerUser else {
                throw .tooManyDevices(user: member.user, devices: devices.count, limit: limits.maximumDevicesPerUser)
            }
            for device in devices where device != message.senderDevice {
                let address = DeviceAddress(user: member.user, device: device)
                if let own = message.deviceCiphertexts[device], !own.isEmpty {
                    deliveries.append(PlannedDelivery(address: address, source: .device, ciphertext: own))
                } else if let shared = message.sharedCiphertext {
                    deliveries.append(PlannedDelivery(address: address, source: .shared, ciphertext: shared))
                } else {
                    missing.append(address)
                }
            }
        }
        seenDevices.insert(message.senderDevice)
        let unknown = message.deviceCiphertexts.keys.filter { !seenDevices.contains($0) }.sorted()
        return FanOutPlan(deliveries: deliveries, devicesWithoutCiphertext: missing, unknownDevices: unknown)
    }
}
