/// The broker's answer to CONNECT.
public struct ConnectAcknowledgement: Sendable, Hashable {
    /// MQTT 5 reason code, or the MQTT 3.1.1 return code (0 accepted, 1–5 refused).
    public var reasonCode: UInt8
    /// Session Present.
    public var sessionPresent: Bool
    /// CONNACK properties (MQTT 5), e.g. Server Reference, Server Keep Alive.
    public var properties: MosquittoProperties

    /// True when the connection was accepted.
    public var isAccepted: Bool { reasonCode == 0 }

    /// An acknowledgement.
    public init(reasonCode: UInt8, sessionPresent: Bool, properties: MosquittoProperties) {
        self.reasonCode = reasonCode
        self.sessionPresent = sessionPresent
        self.properties = properties
    }
}

/// The end of a connection, whoever ended it.
///
/// libmosquitto reports three things through one number: 0 when this client
/// asked to disconnect, a `MOSQ_ERR_*` code (below 0x80) when the link failed
/// locally, and the broker's DISCONNECT reason code (MQTT 5) when the broker
/// ended it; `properties` then holds the DISCONNECT's properties.
public struct Disconnection: Sendable, Hashable {
    /// The number libmosquitto reported.
    public var code: Int32
    /// DISCONNECT properties sent by the broker (MQTT 5), e.g. Server Reference.
    public var properties: MosquittoProperties

    /// A disconnection.
    public init(code: Int32, properties: MosquittoProperties = MosquittoProperties()) {
        self.code = code
        self.properties = properties
    }

    /// True when this client asked for it.
    public var wasRequested: Bool { code == 0 }
    /// The broker's DISCONNECT reason code, when the broker sent one with a failure code.
    public var reasonCode: UInt8? { (0x80...0xFF).contains(code) ? UInt8(code) : nil }
    /// The local failure, when libmosquitto reported one.
    public var error: MosquittoError? {
        (1..<0x80).contains(code) ? MosquittoError(.init(rawValue: code), function: "link") : nil
    }
}

/// A PUBLISH received from the broker. For QoS 1 libmosquitto has already
/// sent PUBACK when this is reported.
public struct MosquittoMessage: Sendable, Hashable {
    /// The topic (resolved from a topic alias by libmosquitto).
    public var topic: String
    /// The payload bytes.
    public var payload: [UInt8]
    /// 0, 1 or 2.
    public var qos: UInt8
    /// The retain flag.
    public var retain: Bool
    /// The packet identifier (0 for QoS 0).
    public var messageID: Int32
    /// PUBLISH properties (MQTT 5): response topic, correlation data, user properties...
    public var properties: MosquittoProperties

    /// A message.
    public init(topic: String, payload: [UInt8], qos: UInt8, retain: Bool = false,
                messageID: Int32 = 0, properties: MosquittoProperties = MosquittoProperties()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.messageID = messageID
        self.properties = properties
    }
}

/// The end of an outgoing PUBLISH: PUBACK (QoS 1), PUBCOMP (QoS 2), or written (QoS 0).
public struct PublishAcknowledgement: Sendable, Hashable {
    /// The packet identifier `publish` returned.
    public var messageID: Int32
    /// The PUBACK reason code (MQTT 5; always 0 with 3.1.1).
    public var reasonCode: UInt8
    /// PUBACK properties (MQTT 5), e.g. a Reason String.
    public var properties: MosquittoProperties

    /// True when the reason code is a success (below 0x80).
    public var isSuccess: Bool { reasonCode < 0x80 }

    /// An acknowledgement.
    public init(messageID: Int32, reasonCode: UInt8, properties: MosquittoProperties = MosquittoProperties()) {
        self.messageID = messageID
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// SUBACK.
public struct SubscribeAcknowledgement: Sendable, Hashable {
    /// The packet identifier of the SUBSCRIBE.
    public var messageID: Int32
    /// One per topic filter: the granted QoS (0–2) or a failure reason code (0x80 and up).
    public var reasonCodes: [UInt8]
    /// SUBACK properties (MQTT 5).
    public var properties: MosquittoProperties

    /// An acknowledgement.
    public init(messageID: Int32, reasonCodes: [UInt8], properties: MosquittoProperties = MosquittoProperties()) {
        self.messageID = messageID
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

/// Everything libmosquitto reports, in the order its network thread saw it.
public enum MosquittoEvent: Sendable, Hashable {
    /// CONNACK, accepted or not.
    case connectAcknowledged(ConnectAcknowledgement)
    /// The link is down.
    case disconnected(Disconnection)
    /// An incoming PUBLISH.
    case message(MosquittoMessage)
    /// An outgoing PUBLISH was acknowledged.
    case published(PublishAcknowledgement)
    /// SUBACK.
    case subscribed(SubscribeAcknowledgement)
}
