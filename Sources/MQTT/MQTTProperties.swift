import NIOCore

/// Property identifiers (MQTT 5.0 §2.2.2.2, table 2-4).
public enum PropertyIdentifier: UInt8, Sendable, Hashable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A
}

/// One User Property: a UTF-8 string pair (MQTT 5.0 §3.1.2.11.8). Order and
/// duplicates are meaningful and are carried through unchanged.
public struct UserProperty: Hashable, Sendable {
    public var name: String
    public var value: String
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
    public var payloadFormatIndicator: UInt8?
    public var messageExpiryInterval: UInt32?
    public var contentType: String?
    public var responseTopic: String?
    public var correlationData: ByteBuffer?
    /// Several may appear in a PUBLISH sent to a client; one in a SUBSCRIBE.
    public var subscriptionIdentifiers: [UInt32]
    public var sessionExpiryInterval: UInt32?
    public var assignedClientIdentifier: String?
    public var serverKeepAlive: UInt16?
    public var authenticationMethod: String?
    public var authenticationData: ByteBuffer?
    public var requestProblemInformation: UInt8?
    public var willDelayInterval: UInt32?
    public var requestResponseInformation: UInt8?
    public var responseInformation: String?
    public var serverReference: String?
    public var reasonString: String?
    public var receiveMaximum: UInt16?
    public var topicAliasMaximum: UInt16?
    public var topicAlias: UInt16?
    public var maximumQoS: UInt8?
    public var retainAvailable: UInt8?
    public var userProperties: [UserProperty]
    public var maximumPacketSize: UInt32?
    public var wildcardSubscriptionAvailable: UInt8?
    public var subscriptionIdentifierAvailable: UInt8?
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
