/// A Signal protocol address: a name (here, a user id) and a device number.
/// Sessions are kept per address.
public struct SignalAddress: Hashable, Sendable, CustomStringConvertible {
    /// The user.
    public var name: String
    /// The device's number (1 ... 2^31-1).
    public var deviceID: Int32

    /// An address of `name`'s device `deviceID`.
    public init(name: String, deviceID: Int32) {
        self.name = name
        self.deviceID = deviceID
    }

    public var description: String { "\(name).\(deviceID)" }
}

/// Names one sender's sender key in one group: the group id and the sending device's address.
public struct SenderKeyName: Hashable, Sendable, CustomStringConvertible {
    /// The group.
    public var groupID: String
    /// The sending device.
    public var sender: SignalAddress

    /// The sender key of `sender` in `groupID`.
    public init(groupID: String, sender: SignalAddress) {
        self.groupID = groupID
        self.sender = sender
    }

    public var description: String { "\(groupID)/\(sender)" }
}
