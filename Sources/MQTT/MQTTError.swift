/// A protocol error found while decoding or handling MQTT. `kind` is stable
/// and maps to the reason code the server sends (MQTT 5.0 §4.13); `detail`
/// is a diagnostic for logs and never carries payload bytes.
public struct MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in the terms of the standard.
    public enum Kind: Hashable, Sendable {
        /// The bytes do not form a packet (§4.13.1): bad lengths, reserved bits, bad UTF-8, a VBI over 4 bytes.
        case malformedPacket
        /// The packet is well formed but not allowed here (§4.13.1): e.g. a second CONNECT, a duplicate property.
        case protocolError
        /// The packet is larger than the Maximum Packet Size (§3.1.2.11.4).
        case packetTooLarge
        /// CONNECT named a protocol name or level the server does not speak (§3.1.2.2).
        case unsupportedProtocolVersion
        /// A PUBLISH topic name is empty without an alias, or holds a wildcard (§4.7).
        case topicNameInvalid
        /// A topic filter breaks the wildcard rules (§4.7.1).
        case topicFilterInvalid
        /// A Topic Alias is 0 or above the maximum, or unknown (§3.3.2.3.4).
        case topicAliasInvalid
        /// The client identifier is not acceptable (§3.1.3.1).
        case clientIdentifierNotValid
        /// A payload marked as UTF-8 is not (§3.3.2.3.2).
        case payloadFormatInvalid
        /// More QoS > 0 PUBLISHes in flight than Receive Maximum allows (§3.3.4).
        case receiveMaximumExceeded
    }

    /// What went wrong; stable, for mapping to a reason code.
    public var kind: Kind
    /// A diagnostic for logs. Never carries payload bytes.
    public var detail: String

    /// An error of `kind` with a diagnostic `detail`.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The reason code the server answers this error with (CONNACK or DISCONNECT).
    public var reasonCode: ReasonCode {
        switch kind {
        case .malformedPacket: return .malformedPacket
        case .protocolError: return .protocolError
        case .packetTooLarge: return .packetTooLarge
        case .unsupportedProtocolVersion: return .unsupportedProtocolVersion
        case .topicNameInvalid: return .topicNameInvalid
        case .topicFilterInvalid: return .topicFilterInvalid
        case .topicAliasInvalid: return .topicAliasInvalid
        case .clientIdentifierNotValid: return .clientIdentifierNotValid
        case .payloadFormatInvalid: return .payloadFormatInvalid
        case .receiveMaximumExceeded: return .receiveMaximumExceeded
        }
    }

    /// The kind and the detail, for logs.
    public var description: String { "MQTTError(\(kind): \(detail))" }

    static func malformed(_ detail: String) -> MQTTError { MQTTError(.malformedPacket, detail) }
    static func protocolViolation(_ detail: String) -> MQTTError { MQTTError(.protocolError, detail) }
}
