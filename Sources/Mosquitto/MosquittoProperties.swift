import CMosquitto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// MQTT 5 properties of a packet (MQTT 5.0 §2.2.2.2), the ones a device uses.
///
/// One type for every packet kind: when sending, libmosquitto refuses a
/// property that the packet may not carry (`MOSQ_ERR_PROTOCOL`); when
/// receiving, what the packet carried is filled in. MQTT 3.1.1 packets carry
/// none.
public struct MosquittoProperties: Sendable, Hashable {
    /// A User Property (0x26) name/value pair.
    public struct UserProperty: Sendable, Hashable {
        /// The name.
        public var name: String
        /// The value.
        public var value: String
        /// A name/value pair.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Payload Format Indicator (0x01): 1 for UTF-8 text.
    public var payloadFormatIndicator: UInt8?
    /// Message Expiry Interval (0x02), seconds.
    public var messageExpiryInterval: UInt32?
    /// Content Type (0x03).
    public var contentType: String?
    /// Response Topic (0x08).
    public var responseTopic: String?
    /// Correlation Data (0x09).
    public var correlationData: [UInt8]?
    /// Session Expiry Interval (0x11), seconds.
    public var sessionExpiryInterval: UInt32?
    /// Assigned Client Identifier (0x12).
    public var assignedClientIdentifier: String?
    /// Server Keep Alive (0x13), seconds.
    public var serverKeepAlive: UInt16?
    /// Server Reference (0x1C): another server to use (CONNACK or DISCONNECT 0x9C / 0x9D).
    public var serverReference: String?
    /// Reason String (0x1F).
    public var reasonString: String?
    /// Receive Maximum (0x21).
    public var receiveMaximum: UInt16?
    /// Topic Alias Maximum (0x22).
    public var topicAliasMaximum: UInt16?
    /// Topic Alias (0x23).
    public var topicAlias: UInt16?
    /// Maximum Packet Size (0x27).
    public var maximumPacketSize: UInt32?
    /// User Properties (0x26), in order.
    public var userProperties: [UserProperty] = []

    /// No properties.
    public init() {}

    /// Creates properties for a PUBLISH (or a CONNECT, for the session expiry).
    public init(
        responseTopic: String? = nil,
        correlationData: [UInt8]? = nil,
        topicAlias: UInt16? = nil,
        contentType: String? = nil,
        messageExpiryInterval: UInt32? = nil,
        sessionExpiryInterval: UInt32? = nil,
        userProperties: [UserProperty] = []
    ) {
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.topicAlias = topicAlias
        self.contentType = contentType
        self.messageExpiryInterval = messageExpiryInterval
        self.sessionExpiryInterval = sessionExpiryInterval
        self.userProperties = userProperties
    }

    /// True when no property is set.
    public var isEmpty: Bool { self == MosquittoProperties() }
}

/// MQTT 5.0 §2.2.2.2 property identifiers.
enum PropertyIdentifier {
    static let payloadFormatIndicator: Int32 = 0x01
    static let messageExpiryInterval: Int32 = 0x02
    static let contentType: Int32 = 0x03
    static let responseTopic: Int32 = 0x08
    static let correlationData: Int32 = 0x09
    static let sessionExpiryInterval: Int32 = 0x11
    static let assignedClientIdentifier: Int32 = 0x12
    static let serverKeepAlive: Int32 = 0x13
    static let serverReference: Int32 = 0x1C
    static let reasonString: Int32 = 0x1F
    static let receiveMaximum: Int32 = 0x21
    static let topicAliasMaximum: Int32 = 0x22
    static let topicAlias: Int32 = 0x23
    static let userProperty: Int32 = 0x26
    static let maximumPacketSize: Int32 = 0x27
}

extension MosquittoProperties {
    /// Reads a libmosquitto property list (borrowed, not freed here).
    init(_ list: OpaquePointer?) {
        self.init()
        var cursor = list
        while let property = cursor {
            let id = mosquitto_property_identifier(property)
            switch id {
            case PropertyIdentifier.payloadFormatIndicator:
                payloadFormatIndicator = Self.readByte(property, id)
            case PropertyIdentifier.messageExpiryInterval:
                messageExpiryInterval = Self.readInt32(property, id)
            case PropertyIdentifier.contentType:
                contentType = Self.readString(property, id)
            case PropertyIdentifier.responseTopic:
                responseTopic = Self.readString(property, id)
            case PropertyIdentifier.correlationData:
                correlationData = Self.readBinary(property, id)
            case PropertyIdentifier.sessionExpiryInterval:
                sessionExpiryInterval = Self.readInt32(property, id)
            case PropertyIdentifier.assignedClientIdentifier:
                assignedClientIdentifier = Self.readString(property, id)
            case PropertyIdentifier.serverKeepAlive:
                serverKeepAlive = Self.readInt16(property, id)
            case PropertyIdentifier.serverReference:
                serverReference = Self.readString(property, id)
            case PropertyIdentifier.reasonString:
                reasonString = Self.readString(property, id)
            case PropertyIdentifier.receiveMaximum:
                receiveMaximum = Self.readInt16(property, id)
            case PropertyIdentifier.topicAliasMaximum:
                topicAliasMaximum = Self.readInt16(property, id)
            case PropertyIdentifier.topicAlias:
                topicAlias = Self.readInt16(property, id)
            case PropertyIdentifier.maximumPacketSize:
                maximumPacketSize = Self.readInt32(property, id)
            case PropertyIdentifier.userProperty:
                var name: UnsafeMutablePointer<CChar>?
                var value: UnsafeMutablePointer<CChar>?
                if mosquitto_property_read_string_pair(property, id, &name, &value, false) != nil {
                    userProperties.append(UserProperty(
                        name.map { String(cString: $0) } ?? "",
                        value.map { String(cString: $0) } ?? ""
                    ))
                }
                free(name)
                free(value)
            default:
                break
            }
            cursor = mosquitto_property_next(property)
        }
    }

    private static func readByte(_ p: OpaquePointer, _ id: Int32) -> UInt8? {
        var v: UInt8 = 0
        return mosquitto_property_read_byte(p, id, &v, false) == nil ? nil : v
    }

    private static func readInt16(_ p: OpaquePointer, _ id: Int32) -> UInt16? {
        var v: UInt16 = 0
        return mosquitto_property_read_int16(p, id, &v, false) == nil ? nil : v
    }

    private static func readInt32(_ p: OpaquePointer, _ id: Int32) -> UInt32? {
        var v: UInt32 = 0
        return mosquitto_property_read_int32(p, id, &v, false) == nil ? nil : v
    }

    private static func readString(_ p: OpaquePointer, _ id: Int32) -> String? {
        var v: UnsafeMutablePointer<CChar>?
        guard mosquitto_property_read_string(p, id, &v, false) != nil else { return nil }
        defer { free(v) }
        return v.map { String(cString: $0) } ?? ""
    }

    private static func readBinary(_ p: OpaquePointer, _ id: Int32) -> [UInt8]? {
        var v: UnsafeMutableRawPointer?
        var length: UInt16 = 0
        guard mosquitto_property_read_binary(p, id, &v, &length, false) != nil else { return nil }
        defer { free(v) }
        guard let v, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: v, count: Int(length)))
    }

    /// Builds a libmosquitto property list, passes it to `body` (nil when
    /// empty) and frees it afterwards.
    func withPropertyList<R>(_ body: (OpaquePointer?) throws(MosquittoError) -> R) throws(MosquittoError) -> R {
        var list: OpaquePointer?
        defer { mosquitto_property_free_all(&list) }
        let add = "mosquitto_property_add"
        if let v = payloadFormatIndicator {
            try MosquittoError.check(mosquitto_property_add_byte(&list, PropertyIdentifier.payloadFormatIndicator, v), add)
        }
        if let v = messageExpiryInterval {
            try MosquittoError.check(mosquitto_property_add_int32(&list, PropertyIdentifier.messageExpiryInterval, v), add)
        }
        if let v = contentType {
            try MosquittoError.check(mosquitto_property_add_string(&list, PropertyIdentifier.contentType, v), add)
        }
        if let v = responseTopic {
            try MosquittoError.check(mosquitto_property_add_string(&list, PropertyIdentifier.responseTopic, v), add)
        }
        if let v = correlationData {
            guard v.count <= Int(UInt16.max) else { throw MosquittoError(.invalid, function: add) }
            let rc = v.withUnsafeBytes {
                mosquitto_property_add_binary(&list, PropertyIdentifier.correlationData, $0.baseAddress, UInt16(v.count))
            }
            try MosquittoError.check(rc, add)
        }
        if let v = sessionExpiryInterval {
            try MosquittoError.check(mosquitto_property_add_int32(&list, PropertyIdentifier.sessionExpiryInterval, v), add)
        }
        if let v = serverReference {
            try MosquittoError.check(mosquitto_property_add_string(&list, PropertyIdentifier.serverReference, v), add)
        }
        if let v = reasonString {
            try MosquittoError.check(mosquitto_property_add_string(&list, PropertyIdentifier.reasonString, v), add)
        }
        if let v = receiveMaximum {
            try MosquittoError.check(mosquitto_property_add_int16(&list, PropertyIdentifier.receiveMaximum, v), add)
        }
        if let v = topicAliasMaximum {
            try MosquittoError.check(mosquitto_property_add_int16(&list, PropertyIdentifier.topicAliasMaximum, v), add)
        }
        if let v = topicAlias {
            try MosquittoError.check(mosquitto_property_add_int16(&list, PropertyIdentifier.topicAlias, v), add)
        }
        if let v = maximumPacketSize {
            try MosquittoError.check(mosquitto_property_add_int32(&list, PropertyIdentifier.maximumPacketSize, v), add)
        }
        for pair in userProperties {
            try MosquittoError.check(
                mosquitto_property_add_string_pair(&list, PropertyIdentifier.userProperty, pair.name, pair.value), add)
        }
        return try body(list)
    }
}
