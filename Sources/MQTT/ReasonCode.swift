/// An MQTT 5.0 reason code (MQTT 5.0 §2.4). Several codes share a value
/// (0x00 is Success, Normal disconnection and Granted QoS 0), so this is a
/// struct over the byte with named constants rather than an enum.
public struct ReasonCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The byte on the wire.
    public var rawValue: UInt8
    /// The reason code with this byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// True for codes of 0x80 and above, which signal failure (§2.4).
    public var isFailure: Bool { rawValue >= 0x80 }

    /// 0x00 Success.
    public static let success = ReasonCode(rawValue: 0x00)
    /// 0x00 Normal disconnection.
    public static let normalDisconnection = ReasonCode(rawValue: 0x00)
    /// 0x00 Granted QoS 0.
    public static let grantedQoS0 = ReasonCode(rawValue: 0x00)
    /// 0x01 Granted QoS 1.
    public static let grantedQoS1 = ReasonCode(rawValue: 0x01)
    /// 0x02 Granted QoS 2.
    public static let grantedQoS2 = ReasonCode(rawValue: 0x02)
    /// 0x04 Disconnect with Will Message.
    public static let disconnectWithWillMessage = ReasonCode(rawValue: 0x04)
    /// 0x10 No matching subscribers.
    public static let noMatchingSubscribers = ReasonCode(rawValue: 0x10)
    /// 0x11 No subscription existed.
    public static let noSubscriptionExisted = ReasonCode(rawValue: 0x11)
    /// 0x18 Continue authentication.
    public static let continueAuthentication = ReasonCode(rawValue: 0x18)
    /// 0x19 Re-authenticate.
    public static let reAuthenticate = ReasonCode(rawValue: 0x19)
    /// 0x80 Unspecified error.
    public static let unspecifiedError = ReasonCode(rawValue: 0x80)
    /// 0x81 Malformed Packet.
    public static let malformedPacket = ReasonCode(rawValue: 0x81)
    /// 0x82 Protocol Error.
    public static let protocolError = ReasonCode(rawValue: 0x82)
    /// 0x83 Implementation specific error.
    public static let implementationSpecificError = ReasonCode(rawValue: 0x83)
    /// 0x84 Unsupported Protocol Version.
    public static let unsupportedProtocolVersion = ReasonCode(rawValue: 0x84)
    /// 0x85 Client Identifier not valid.
    public static let clientIdentifierNotValid = ReasonCode(rawValue: 0x85)
    /// 0x86 Bad User Name or Password.
    public static let badUserNameOrPassword = ReasonCode(rawValue: 0x86)
    /// 0x87 Not authorized.
    public static let notAuthorized = ReasonCode(rawValue: 0x87)
    /// 0x88 Server unavailable.
    public static let serverUnavailable = ReasonCode(rawValue: 0x88)
    /// 0x89 Server busy.
    public static let serverBusy = ReasonCode(rawValue: 0x89)
    /// 0x8A Banned.
    public static let banned = ReasonCode(rawValue: 0x8A)
    /// 0x8B Server shutting down.
    public static let serverShuttingDown = ReasonCode(rawValue: 0x8B)
    /// 0x8C Bad authentication method.
    public static let badAuthenticationMethod = ReasonCode(rawValue: 0x8C)
    /// 0x8D Keep Alive timeout.
    public static let keepAliveTimeout = ReasonCode(rawValue: 0x8D)
    /// 0x8E Session taken over.
    public static let sessionTakenOver = ReasonCode(rawValue: 0x8E)
    /// 0x8F Topic Filter invalid.
    public static let topicFilterInvalid = ReasonCode(rawValue: 0x8F)
    /// 0x90 Topic Name invalid.
    public static let topicNameInvalid = ReasonCode(rawValue: 0x90)
    /// 0x91 Packet Identifier in use.
    public static let packetIdentifierInUse = ReasonCode(rawValue: 0x91)
    /// 0x92 Packet Identifier not found.
    public static let packetIdentifierNotFound = ReasonCode(rawValue: 0x92)
    /// 0x93 Receive Maximum exceeded.
    public static let receiveMaximumExceeded = ReasonCode(rawValue: 0x93)
    /// 0x94 Topic Alias invalid.
    public static let topicAliasInvalid = ReasonCode(rawValue: 0x94)
    /// 0x95 Packet too large.
    public static let packetTooLarge = ReasonCode(rawValue: 0x95)
    /// 0x96 Message rate too high.
    public static let messageRateTooHigh = ReasonCode(rawValue: 0x96)
    /// 0x97 Quota exceeded.
    public static let quotaExceeded = ReasonCode(rawValue: 0x97)
    /// 0x98 Administrative action.
    public static let administrativeAction = ReasonCode(rawValue: 0x98)
    /// 0x99 Payload format invalid.
    public static let payloadFormatInvalid = ReasonCode(rawValue: 0x99)
    /// 0x9A Retain not supported.
    public static let retainNotSupported = ReasonCode(rawValue: 0x9A)
    /// 0x9B QoS not supported.
    public static let qosNotSupported = ReasonCode(rawValue: 0x9B)
    /// 0x9C Use another server.
    public static let useAnotherServer = ReasonCode(rawValue: 0x9C)
    /// 0x9D Server moved.
    public static let serverMoved = ReasonCode(rawValue: 0x9D)
    /// 0x9E Shared Subscriptions not supported.
    public static let sharedSubscriptionsNotSupported = ReasonCode(rawValue: 0x9E)
    /// 0x9F Connection rate exceeded.
    public static let connectionRateExceeded = ReasonCode(rawValue: 0x9F)
    /// 0xA0 Maximum connect time.
    public static let maximumConnectTime = ReasonCode(rawValue: 0xA0)
    /// 0xA1 Subscription Identifiers not supported.
    public static let subscriptionIdentifiersNotSupported = ReasonCode(rawValue: 0xA1)
    /// 0xA2 Wildcard Subscriptions not supported.
    public static let wildcardSubscriptionsNotSupported = ReasonCode(rawValue: 0xA2)

    /// The MQTT 3.1.1 CONNACK return code closest to this reason code
    /// (MQTT 3.1.1 §3.2.2.3): 0 accepted, 1 unacceptable protocol version,
    /// 2 identifier rejected, 3 server unavailable, 4 bad user name or
    /// password, 5 not authorized.
    public var connectReturnCodeV311: UInt8 {
        switch self {
        case .success: return 0
        case .unsupportedProtocolVersion: return 1
        case .clientIdentifierNotValid: return 2
        case .badUserNameOrPassword: return 4
        case .notAuthorized, .banned, .badAuthenticationMethod: return 5
        default: return 3
        }
    }

    /// The reason code for an MQTT 3.1.1 CONNACK return code.
    public init(connectReturnCodeV311 code: UInt8) {
        switch code {
        case 0: self = .success
        case 1: self = .unsupportedProtocolVersion
        case 2: self = .clientIdentifierNotValid
        case 3: self = .serverUnavailable
        case 4: self = .badUserNameOrPassword
        case 5: self = .notAuthorized
        default: self = .unspecifiedError
        }
    }

    /// The code in hex, e.g. "0x8E".
    public var description: String {
        "0x" + String(rawValue, radix: 16, uppercase: true)
    }
}
