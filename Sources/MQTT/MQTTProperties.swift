import NIOCore

/// Property identifiers (MQTT 5.0 §2.2.2.2, table 2-4).
public enum PropertyIdentifier: UInt8, Sendable, Hashable {
    /// 0x01 Payload Format Indicator, a byte.
    case payloadFormatIndicator = 0x01
    /// 0x02 Message Expiry Interval, a four-byte integer.
    case messageExpiryInterval = 0x02
    /// 0x03 Content Type, a UTF-8 string.
    case contentType = 0x03
    /// 0x08 Response Topic, a UTF-8 string.
    case responseTopic = 0x08
    /// 0x09 Correlation Data, a binary data.
    case correlationData = 0x09
    /// 0x0B Subscription Identifier, a variable byte integer.
    case subscriptionIdentifier = 0x0B
    /// 0x11 Session Expiry Interval, a four-byte integer.
    case sessionExpiryInterval = 0x11
    /// 0x12 Assigned Client Identifier, a UTF-8 string.
    case assignedClientIdentifier = 0x12
    /// 0x13 Server Keep Alive, a two-byte integer.
    case serverKeepAlive = 0x13
    /// 0x15 Authentication Method, a UTF-8 string.
    case authenticationMethod = 0x15
    /// 0x16 Authentication Data, a binary data.
    case authenticationData = 0x16
    /// 0x17 Request Problem Information, a byte.
    case requestProblemInformation = 0x17
    /// 0x18 Will Delay Interval, a four-byte integer.
    case willDelayInterval = 0x18
    /// 0x19 Request Response Information, a byte.
    case requestResponseInformation = 0x19
    /// 0x1A Response Information, a UTF-8 string.
    case responseInformation = 0x1A
    /// 0x1C Server Reference, a UTF-8 string.
    case serverReference = 0x1C
    /// 0x1F Reason String, a UTF-8 string.
    case reasonString = 0x1F
    /// 0x21 Receive Maximum, a two-byte integer.
    case receiveMaximum = 0x21
    /// 0x22 Topic Alias Maximum, a two-byte integer.
    case topicAliasMaximum = 0x22
    /// 0x23 Topic Alias, a two-byte integer.
    case topicAlias = 0x23
    /// 0x24 Maximum QoS, a byte.
    case maximumQoS = 0x24
    /// 0x25 Retain Available, a byte.
    case retainAvailable = 0x25
    /// 0x26 User Property, a UTF-8 string pair.
    case userProperty = 0x26
    /// 0x27 Maximum Packet Size, a four-byte integer.
    case maximumPacketSize = 0x27
    /// 0x28 Wildcard Subscription Available, a byte.
    case wildcardSubscriptionAvailable = 0x28
    /// 0x29 Subscription Identifier Available, a byte.
    case subscriptionIdentifierAvailable = 0x29
    /// 0x2A Shared Subscription Available, a byte.
    case sharedSubscriptionAvailable = 0x2A
}

/// One User Property: a UTF-8 string pair (MQTT 5.0 §3.1.2.11.8). Order and
/// duplicates are meaningful and are carried through unchanged.
public struct UserProperty: Hashable, Sendable {
    /// The property name.
    public var name: String
    /// The property value.
    public var value: String
    /// A user property `name` = `value`.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The properties of an MQTT 5.0 packet (MQTT 5.0 §2.2.2). Every property is
/// optional; which ones a packet may carry is checked by the decoder
/// (a property not allowed for the packet, or one given twice where only one
/// is allowed, is a Protocol Error). MQTT 3.1.1 packets carry none.
public struct MQTTProperties: Hashable, Sendable {
    /// 0x01: 0 unspecified bytes, 1 UTF-8 (PUBLISH, Will; §3.3.2.3.2).
    public var payloadFormatIndicator: UInt8?
    /// 0x02: lifetime of the message in seconds (PUBLISH, Will; §3.3.2.3.3).
    public var messageExpiryInterval: UInt32?
    /// 0x03: MIME type of the payload (PUBLISH, Will; §3.3.2.3.9).
    public var contentType: String?
    /// 0x08: topic name for a response (PUBLISH, Will; §3.3.2.3.5).
    public var responseTopic: String?
    /// 0x09: matches a response to its request (PUBLISH, Will; §3.3.2.3.6).
    public var correlationData: ByteBuffer?
    /// Several may appear in a PUBLISH sent to a client; one in a SUBSCRIBE.
    public var subscriptionIdentifiers: [UInt32]
    /// 0x11: seconds the session outlives the connection (CONNECT, CONNACK, DISCONNECT; §3.1.2.11.2).
    public var sessionExpiryInterval: UInt32?
    /// 0x12: the identifier the server assigned (CONNACK; §3.2.2.3.7).
    public var assignedClientIdentifier: String?
    /// 0x13: the keep alive the server imposes (CONNACK; §3.2.2.3.14).
    public var serverKeepAlive: UInt16?
    /// 0x15: name of the enhanced authentication method (CONNECT, CONNACK, AUTH; §3.1.2.11.9).
    public var authenticationMethod: String?
    /// 0x16: data of the authentication method (CONNECT, CONNACK, AUTH; §3.1.2.11.10).
    public var authenticationData: ByteBuffer?
    /// 0x17: 0 or 1, whether reason strings and user properties may be sent on failures (CONNECT; §3.1.2.11.7).
    public var requestProblemInformation: UInt8?
    /// 0x18: seconds to wait before publishing the will (Will; §3.1.3.2.2).
    public var willDelayInterval: UInt32?
    /// 0x19: 0 or 1, whether the client wants Response Information (CONNECT; §3.1.2.11.6).
    public var requestResponseInformation: UInt8?
    /// 0x1A: basis for response topics (CONNACK; §3.2.2.3.15).
    public var responseInformation: String?
    /// 0x1C: another server to use (CONNACK, DISCONNECT; §4.11).
    public var serverReference: String?
    /// 0x1F: human-readable diagnostic (acks, CONNACK, DISCONNECT, AUTH; §3.2.2.3.9).
    public var reasonString: String?
    /// 0x21: QoS 1 and 2 publications the sender will process at once, 1...65,535 (CONNECT, CONNACK; §3.1.2.11.3).
    public var receiveMaximum: UInt16?
    /// 0x22: highest topic alias the sender accepts (CONNECT, CONNACK; §3.1.2.11.5).
    public var topicAliasMaximum: UInt16?
    /// 0x23: a number that stands for the topic name, non-zero (PUBLISH; §3.3.2.3.4).
    public var topicAlias: UInt16?
    /// 0x24: 0 or 1, the highest QoS the server supports (CONNACK; §3.2.2.3.4).
    public var maximumQoS: UInt8?
    /// 0x25: 0 or 1, whether the server supports retained messages (CONNACK; §3.2.2.3.5).
    public var retainAvailable: UInt8?
    /// 0x26: name/value pairs, in order; allowed in every packet (§3.1.2.11.8).
    public var userProperties: [UserProperty]
    /// 0x27: the largest packet the sender accepts, non-zero (CONNECT, CONNACK; §3.1.2.11.4).
    public var maximumPacketSize: UInt32?
    /// 0x28: 0 or 1 (CONNACK; §3.2.2.3.11).
    public var wildcardSubscriptionAvailable: UInt8?
    /// 0x29: 0 or 1 (CONNACK; §3.2.2.3.12).
    public var subscriptionIdentifierAvailable: UInt8?
    /// 0x2A: 0 or 1 (CONNACK; §3.2.2.3.13).
    public var sharedSubscriptionAvailable: UInt8?

    /// No properties.
    public init() {
        subscriptionIdentifiers = []
        userProperties = []
    }

    /// True when no property is set. Checks each field in turn rather than
    /// comparing with an empty value, so it is cheap enough for hot paths.
    public var isEmpty: Bool {
        self.payloadFormatIndicator == nil && self.messageExpiryInterval == nil && self.contentType == nil
            && self.responseTopic == nil && self.correlationData == nil && self.subscriptionIdentifiers.isEmpty
            && self.sessionExpiryInterval == nil && self.assignedClientIdentifier == nil
            && self.serverKeepAlive == nil && self.authenticationMethod == nil && self.authenticationData == nil
            && self.requestProblemInformation == nil && self.willDelayInterval == nil
            && self.requestResponseInformation == nil && self.responseInformation == nil
            && self.serverReference == nil && self.reasonString == nil && self.receiveMaximum == nil
            && self.topicAliasMaximum == nil && self.topicAlias == nil && self.maximumQoS == nil
            && self.retainAvailable == nil && self.userProperties.isEmpty && self.maximumPacketSize == nil
            && self.wildcardSubscriptionAvailable == nil && self.subscriptionIdentifierAvailable == nil
            && self.sharedSubscriptionAvailable == nil
    }
}
