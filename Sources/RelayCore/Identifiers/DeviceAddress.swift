/// A device of a user: the address of one delivery or status.
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
