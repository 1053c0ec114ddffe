import MQTT
import NIOCore

/// An application message as the server holds it after accepting a PUBLISH
/// (or a will): immutable and shared by every subscriber it goes to.
public final class MQTTMessage: Sendable {
    /// The topic name (never an alias: aliases are resolved on receipt).
    public let topic: String
    public let payload: ByteBuffer
    /// The QoS it was published with.
    public let qos: QoS
    /// The RETAIN flag it was published with.
    public let retain: Bool
    /// Properties that travel with the message (MQTT 5.0 §3.3.2.3): payload
    /// format, message expiry, content type, response topic, correlation
    /// data and user properties. Never a topic alias or subscription identifier.
    public let properties: MQTTProperties
    /// When the server received it, to count down Message Expiry Interval.
    public let receivedAt: NIODeadline

    /// Creates a message. `properties` should hold only the message properties.
    public init(topic: String, payload: ByteBuffer, qos: QoS, retain: Bool, properties: MQTTProperties = .init(), receivedAt: NIODeadline = .now()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.receivedAt = receivedAt
    }

    /// The message with its payload copied into storage of its own, so that a
    /// queued or retained message does not pin the (larger) read buffer it
    /// was sliced from.
    public func compacted() -> MQTTMessage {
        var copy = ByteBufferAllocator().buffer(capacity: payload.readableBytes)
        copy.writeImmutableBuffer(payload)
        return MQTTMessage(topic: topic, payload: copy, qos: qos, retain: retain, properties: properties, receivedAt: receivedAt)
    }

    /// Seconds of Message Expiry Interval left at `now`, nil when the message
    /// does not expire, 0 when it has expired (MQTT 5.0 §3.3.2.3.3).
    public func remainingExpiry(at now: NIODeadline) -> UInt32? {
        guard let interval = properties.messageExpiryInterval else { return nil }
        let elapsed = (now - receivedAt).nanoseconds / 1_000_000_000
        if elapsed >= Int64(interval) { return 0 }
        return interval - UInt32(max(0, elapsed))
    }
}

/// One message on its way to one session, as a subscription shapes it.
public struct MQTTDelivery: Sendable {
    public var message: MQTTMessage
    /// The lower of the message's QoS and the subscription's (MQTT 5.0 §3.8.4).
    public var qos: QoS
    /// The RETAIN flag to send: set for retained messages sent on subscribe,
    /// or as published with Retain As Published (MQTT 5.0 §3.3.1.3).
    public var retain: Bool
    /// Identifiers of the subscriptions that matched (MQTT 5.0 §3.3.4).
    public var subscriptionIdentifiers: [UInt32]
    /// Called on the connection's event loop once the client has
    /// acknowledged this delivery (PUBACK for QoS 1, PUBCOMP for QoS 2), or
    /// when the server must behave as if it had (the message expired, or is
    /// larger than the client's Maximum Packet Size, MQTT 5.0 §3.1.2.11.4).
    /// Not called for QoS 0, nor when the connection ends first: a router
    /// with a durable queue redelivers then.
    public var onAcknowledged: (@Sendable () -> Void)?
    /// Flow-control credit of the publisher, held until the delivery is written.
    var ticket: CreditTicket?

    public init(
        message: MQTTMessage,
        qos: QoS,
        retain: Bool = false,
        subscriptionIdentifiers: [UInt32] = [],
        onAcknowledged: (@Sendable () -> Void)? = nil
    ) {
        self.message = message
        self.qos = qos
        self.retain = retain
        self.subscriptionIdentifiers = subscriptionIdentifiers
        self.onAcknowledged = onAcknowledged
        self.ticket = nil
    }
}
