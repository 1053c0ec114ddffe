/// What a device's subscription covers, once checked to lie within its own
/// `d/<device>/#` (docs/protocol.md, "Connecting").
///
/// Accepted filters: `d/<device>/#` and `d/<device>/+` (every channel) and
/// `d/<device>/<letter>` for one ``DeviceChannel``. Anything else, another
/// device's topics, a shared subscription (`$share/...`) or a filter that
/// matches nothing the relay sends, is refused.
public enum DeviceSubscription: Hashable, Sendable {
    /// Every channel of the device.
    case all
    /// One channel.
    case channel(DeviceChannel)

    /// Checks `filter`, subscribed to by `device`.
    public init(filter: String, device: DeviceID) throws(SubscriptionRefusal) {
        let prefix = "d/" + device.rawValue + "/"
        guard filter.utf8.count == prefix.utf8.count + 1, filter.utf8.starts(with: prefix.utf8) else {
            throw .notOwnTopics
        }
        let last = String(decoding: filter.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)  // after the ASCII prefix
        switch last {
        case "#", "+":
            self = .all
        default:
            guard let channel = DeviceChannel(rawValue: last) else { throw .notOwnTopics }
            self = .channel(channel)
        }
    }

    /// True when `filter` is within `device`'s own topics.
    public static func isPermitted(filter: String, device: DeviceID) -> Bool {
        (try? DeviceSubscription(filter: filter, device: device)) != nil
    }

    /// The channels the subscription covers.
    public var channels: Set<DeviceChannel> {
        switch self {
        case .all: return Set(DeviceChannel.allCases)
        case .channel(let channel): return [channel]
        }
    }
}

/// Why a subscription is refused.
public enum SubscriptionRefusal: RelayRefusal, Hashable {
    /// The filter is not within `d/<own device>/#`.
    case notOwnTopics

    /// `forbidden_topic`.
    public var code: ErrorCode { .forbiddenTopic }
    /// 0x87 Not authorized (SUBACK).
    public var reasonCode: UInt8 { RefusalReasonCode.notAuthorized }
    /// A one-line explanation.
    public var message: String { "a device may subscribe only to d/<its device id>/#" }
}
