/// One of a device's own downstream topics, `d/<device>/<letter>`
/// (docs/protocol.md, "Topics").
public enum DeviceChannel: String, CaseIterable, Hashable, Sendable {
    /// `d/<device>/m`: `Delivery`, QoS 1.
    case messages = "m"
    /// `d/<device>/s`: `Status`, QoS 1.
    case status = "s"
    /// `d/<device>/p`: `Presence`, QoS 0.
    case presence = "p"
    /// `d/<device>/t`: `TypingEvent`, QoS 0.
    case typing = "t"
    /// `d/<device>/a`: `Response`, QoS 1.
    case answers = "a"
    /// `d/<device>/e`: `Event`, QoS 1.
    case events = "e"

    /// The QoS the relay publishes this channel with.
    public var qos: UInt8 {
        switch self {
        case .presence, .typing: return 0
        case .messages, .status, .answers, .events: return 1
        }
    }

    /// The topic of this channel for `device`, e.g. `d/alice-phone/m`.
    public func topic(for device: DeviceID) -> String {
        "d/" + device.rawValue + "/" + rawValue
    }
}

extension DeviceID {
    /// The topic of `channel` for this device, e.g. `d/alice-phone/m`.
    public func topic(_ channel: DeviceChannel) -> String {
        channel.topic(for: self)
    }

    /// The subscription a device makes after CONNACK: `d/<device>/#`.
    public var subscriptionFilter: String {
        "d/" + rawValue + "/#"
    }
}
