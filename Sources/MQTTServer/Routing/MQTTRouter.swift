import MQTT
import NIOCore

/// The result of handing something to a router: ready now (the fast path,
/// no allocation) or later, when a store has made it durable.
public enum MQTTRouterResult<Value: Sendable>: Sendable {
    case completed(Value)
    case pending(EventLoopFuture<Value>)

    /// The same result with `transform` applied to its value, now or when it comes.
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Value) -> T) -> MQTTRouterResult<T> {
        switch self {
        case .completed(let value): .completed(transform(value))
        case .pending(let future): .pending(future.map(transform))
        }
    }

    /// The value as a future on `loop` (succeeded at once when it is ready).
    public func future(on loop: any EventLoop) -> EventLoopFuture<Value> {
        switch self {
        case .completed(let value): loop.makeSucceededFuture(value)
        case .pending(let future): future
        }
    }
}

/// A router's answer to a PUBLISH with what its acknowledgement (PUBACK or
/// PUBREC) carries: the reason code, and for MQTT 5 clients a Reason String
/// or User Properties (MQTT 5.0 §3.4.2.2). The engine leaves the properties
/// out for MQTT 3.1.1 clients, and when they would make the packet larger
/// than the client's Maximum Packet Size (MQTT 5.0 §3.4.2.2.2, §3.4.2.2.3).
public struct MQTTPublishAcknowledgement: Sendable, Equatable {
    /// Success, No matching subscribers, or a failure code.
    public var reasonCode: ReasonCode
    /// Reason String and User Properties only; anything else is not sent.
    public var properties: MQTTProperties

    /// An acknowledgement with `reasonCode` and `properties`.
    public init(reasonCode: ReasonCode, properties: MQTTProperties = .init()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// What a SUBSCRIBE asks for, after the engine has validated it.
public struct MQTTSubscribeRequest: Sendable {
    public var subscriptions: [Subscription]
    /// The Subscription Identifier of the SUBSCRIBE, if any (MQTT 5.0 §3.8.2.1.2).
    public var subscriptionIdentifier: UInt32?
    public var userProperties: [UserProperty]

    public init(subscriptions: [Subscription], subscriptionIdentifier: UInt32? = nil, userProperties: [UserProperty] = []) {
        self.subscriptions = subscriptions
        self.subscriptionIdentifier = subscriptionIdentifier
        self.userProperties = userProperties
    }
}

/// A router's answer to a SUBSCRIBE: one reason code per filter (granted
/// QoS or failure) and the retained messages to send once SUBACK is out.
public struct MQTTSubscribeResult: Sendable {
    public var reasonCodes: [ReasonCode]
    public var retained: [MQTTDelivery]

    public init(reasonCodes: [ReasonCode], retained: [MQTTDelivery] = []) {
        self.reasonCodes = reasonCodes
        self.retained = retained
    }
}

/// Decides what PUBLISH, SUBSCRIBE and UNSUBSCRIBE mean. The engine handles
/// the protocol (framing, flow control, QoS handshakes, sessions); the router
/// handles the meaning: the generic broker routes by topic filter, the chat
/// relay maps topics to conversations and device queues.
///
/// Calls arrive on the event loop of the session's connection and must not
/// block it; slow work returns `.pending`.
public protocol MQTTRouter: Sendable {
    /// A session's connection was accepted (after authentication). `resumed`
    /// is true when an existing session continues.
    func sessionConnected(_ session: MQTTSession, resumed: Bool)

    /// A client published `message`. The reason code goes back in PUBACK or
    /// PUBREC (for QoS 0 it is only logged): Success, No matching subscribers,
    /// or a failure such as Not authorized or Quota exceeded. The engine
    /// acknowledges only once the result completes.
    func publish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<ReasonCode>

    /// As ``publish(_:from:)``, with properties for the acknowledgement. The
    /// engine calls this one; the default calls ``publish(_:from:)`` and
    /// sends no properties. A router that answers with properties implements
    /// this (and ``publish(_:from:)`` for callers that want only the code).
    func acknowledgedPublish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<MQTTPublishAcknowledgement>

    /// A client subscribed. Filters have been validated by the engine.
    func subscribe(_ request: MQTTSubscribeRequest, from session: MQTTSession) -> MQTTSubscribeResult

    /// A client unsubscribed; one reason code per filter (Success or No
    /// subscription existed).
    func unsubscribe(_ topicFilters: [String], from session: MQTTSession) -> [ReasonCode]

    /// A session's network connection closed; the session may live on
    /// (session expiry) and keep receiving into its queue.
    func sessionDisconnected(_ session: MQTTSession)

    /// A session ended (expired, replaced by a clean start, or closed with
    /// expiry 0). Forget its subscriptions; it receives nothing more.
    func sessionEnded(_ session: MQTTSession)
}

extension MQTTRouter {
    public func acknowledgedPublish(_ message: MQTTMessage, from session: MQTTSession) -> MQTTRouterResult<MQTTPublishAcknowledgement> {
        publish(message, from: session).map { MQTTPublishAcknowledgement(reasonCode: $0) }
    }

    public func sessionConnected(_ session: MQTTSession, resumed: Bool) {}
    public func sessionDisconnected(_ session: MQTTSession) {}
}
