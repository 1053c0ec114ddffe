/// DISCONNECT (MQTT 5.0 §3.14). MQTT 3.1.1's DISCONNECT has no body; the
/// reason code and properties are then not written.
public struct DisconnectPacket: Hashable, Sendable {
    /// Why the connection closes (§3.14.2.1).
    public var reasonCode: ReasonCode
    /// Session Expiry Interval (client only), Reason String, User Properties,
    /// Server Reference (with 0x9C Use another server / 0x9D Server moved).
    public var properties: MQTTProperties

    /// A DISCONNECT; by default Normal disconnection.
    public init(reasonCode: ReasonCode = .normalDisconnection, properties: MQTTProperties = .init()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// AUTH (MQTT 5.0 §3.15), for enhanced authentication.
public struct AuthPacket: Hashable, Sendable {
    /// Success, Continue authentication or Re-authenticate (§3.15.2.1).
    public var reasonCode: ReasonCode
    /// Authentication Method and Data, Reason String, User Properties (§3.15.2.2).
    public var properties: MQTTProperties

    /// An AUTH; by default Success.
    public init(reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
