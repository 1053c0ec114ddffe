/// A device: 1–64 bytes of `[A-Za-z0-9_-]`, unique across the deployment.
/// It is the device's MQTT client identifier (docs/protocol.md).
public struct DeviceID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The most bytes a device id may have.
    public static let maximumLength = 64

    /// The validated id.
    public let rawValue: String

    /// Validates `string` as a device id, saying what is wrong if it is not one.
    public init(validating string: String) throws(IdentifierError) {
        try IdentifierSyntax.validate(string.utf8, kind: .device, maximumLength: Self.maximumLength)
        self.rawValue = string
    }

    /// The device id `rawValue`, or nil when it is not valid.
    public init?(rawValue: String) {
        guard let id = try? DeviceID(validating: rawValue) else { return nil }
        self = id
    }

    /// Bytewise order of the UTF-8 forms.
    public static func < (lhs: DeviceID, rhs: DeviceID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    /// The id itself.
    public var description: String { rawValue }
}
