import MQTT
import NIOCore
import Synchronization
import Testing

@testable import MQTTServer

/// Layer 1: the connection state machine alone, no sockets.
@Suite struct ConnectionStateMachineTests {
    var configuration: MQTTServerConfiguration = {
        var c = MQTTServerConfiguration()
        c.receiveMaximum = 2
        c.topicAliasMaximum = 4
        c.maximumQueuedMessages = 3
        c.maximumKeepAlive = 30
        return c
    }()
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// Runs CONNECT through authentication and session opening.
    func connected(
        _ connect: ConnectPacket,
        resumed: SessionState? = nil
    ) -> (ConnectionStateMachine, [MQTTPacket]) {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        guard case .authenticate = machine.connectReceived(connect, output: &out) else {
            Issue.record("expected authenticate")
            return (machine, out)
        }
        guard case .openSession = machine.authenticated(.accept(MQTTPrincipal()), output: &out) else {
            Issue.record("expected openSession")
            return (machine, out)
        }
        guard case .connected = machine.sessionOpened(resumed: resumed, now: now, output: &out) else {
            Issue.record("expected connected")
            return (machine, out)
        }
        return (machine, out)
    }

    func v5(_ id: String = "c1", clean: Bool = true, properties: MQTTProperties = .init(), will: ConnectPacket.Will? = nil) -> ConnectPacket {
        ConnectPacket(protocolVersion: .v5, clientIdentifier: id, cleanStart: clean, keepAlive: 60, will: will, properties: properties)
    }

    func delivery(_ topic: String, qos: QoS) -> MQTTDelivery {
        MQTTDelivery(message: MQTTMessage(topic: topic, payload: ByteBuffer(string: "x"), qos: qos, retain: false, receivedAt: now), qos: qos)
    }

    @Test func connAckCarriesServerLimits() {
        let (_, out) = connected(v5(""))
        guard case .connack(let ack) = out.first else {
            Issue.record("no CONNACK")
            return
        }
        #expect(ack.reasonCode == .success)
        #expect(ack.sessionPresent == false)
        #expect(ack.properties.receiveMaximum == 2)
        #expect(ack.properties.topicAliasMaximum == 4)
        #expect(ack.properties.maximumPacketSize == configuration.maximumPacketSize)
        #expect(ack.properties.retainAvailable == 1)
        #expect(ack.properties.wildcardSubscriptionAvailable == 1)
        #expect(ack.properties.sharedSubscriptionAvailable == 1)
        #expect(ack.properties.subscriptionIdentifierAvailable == 1)
        #expect(ack.properties.serverKeepAlive == 30, "keep-alive 60 is above the maximum 30")
        #expect(ack.properties.assignedClientIdentifier?.hasPrefix("auto-") == true)
    }

    @Test func v311EmptyClientIdWithoutCleanSessionIsRefused() {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        let action = machine.connectReceived(ConnectPacket(protocolVersion: .v311, clientIdentifier: "", cleanStart: false), output: &out)
        guard case .close = action else {
            Issue.record("expected close, got \(action)")
            return
        }
        #expect(out == [.connack(ConnAckPacket(sessionPresent: false, reasonCode: .clientIdentifierNotValid))])
    }

    @Test func authenticationRejectionCarriesServerReference() {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        _ = machine.connectReceived(v5(), output: &out)
        var properties = MQTTProperties()
        properties.serverReference = "eu-west.example:1883"
        guard case .close = machine.authenticated(.reject(.useAnotherServer, properties), output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.connack(ConnAckPacket(sessionPresent: false, reasonCode: .useAnotherServer, properties: properties))])
    }

    @Test func secondConnectIsAProtocolError() {
        var (machine, out) = connected(v5())
        out.removeAll()
        let action = machine.packetReceived(.connect(v5()), now: now, output: &out)
        guard case .close(let closing) = action else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
        #expect(closing.reason == .protocolViolation(.protocolError))
    }

    @Test func qos1PublishIsRoutedThenAcknowledged() {
        var (machine, out) = connected(v5())
        out.removeAll()
        let action = machine.packetReceived(.publish(PublishPacket(topicName: "a/b", payload: ByteBuffer(string: "hi"), qos: .atLeastOnce, packetIdentifier: 7)), now: now, output: &out)
        guard case .route(let message, let id) = action else {
            Issue.record("expected route")
            return
        }
        #expect(message.topic == "a/b")
        #expect(id == 7)
        #expect(out.isEmpty, "no PUBACK before the router answers")
        machine.publishRouted(packetIdentifier: 7, reasonCode: .success, output: &out)
        #expect(out == [.puback(AckPacket(packetIdentifier: 7))])
    }

    @Test func acknowledgementsKeepPublishOrder() {
        var (machine, out) = connected(v5())
        out.removeAll()
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: 1)), now: now, output: &out)
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: 2)), now: now, output: &out)
        machine.publishRouted(packetIdentifier: 2, reasonCode: .success, output: &out)
        #expect(out.isEmpty, "PUBACK 2 waits for PUBACK 1 (MQTT 5.0 §4.6)")
        machine.publishRouted(packetIdentifier: 1, reasonCode: .success, output: &out)
        #expect(out == [.puback(AckPacket(packetIdentifier: 1)), .puback(AckPacket(packetIdentifier: 2))])
    }

    @Test func acknowledgementCarriesTheRoutersReasonStringAndUserProperties() {
        var (machine, out) = connected(v5())
        out.removeAll()
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: 3)), now: now, output: &out)
        var properties = MQTTProperties()
        properties.reasonString = "applied"
        properties.userProperties = [UserProperty(name: "regions", value: "AAEC")]
        properties.contentType = "not for a PUBACK"
        machine.publishRouted(packetIdentifier: 3, reasonCode: .success, properties: properties, output: &out)
        var expected = MQTTProperties()
        expected.reasonString = "applied"
        expected.userProperties = [UserProperty(name: "regions", value: "AAEC")]
        #expect(out == [.puback(AckPacket(packetIdentifier: 3, properties: expected))])
    }

    @Test func noReasonStringForAClientThatAskedForNoProblemInformation() {
        var request = MQTTProperties()
        request.requestProblemInformation = 0
        var (machine, out) = connected(v5(properties: request))
        out.removeAll()
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: 4)), now: now, output: &out)
        var properties = MQTTProperties()
        properties.reasonString = "rate_limited: too many sends"
        properties.userProperties = [UserProperty(name: "k", value: "v")]
        machine.publishRouted(packetIdentifier: 4, reasonCode: .quotaExceeded, properties: properties, output: &out)
        // MQTT 5.0 §3.1.2.11.7: no Reason String or User Properties outside PUBLISH, CONNACK, DISCONNECT.
        #expect(out == [.puback(AckPacket(packetIdentifier: 4, reasonCode: .quotaExceeded))])
    }

    @Test func acknowledgementPropertiesAreDroppedForV311AndBeyondTheClientsMaximumPacketSize() {
        var properties = MQTTProperties()
        properties.userProperties = [UserProperty(name: "regions", value: String(repeating: "x", count: 64))]

        var (old, out) = connected(ConnectPacket(protocolVersion: .v311, clientIdentifier: "c1", cleanStart: true))
        out.removeAll()
        _ = old.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: 1)), now: now, output: &out)
        old.publishRouted(packetIdentifier: 1, reasonCode: .success, properties: properties, output: &out)
        #expect(out == [.puback(AckPacket(packetIdentifier: 1))])

        var limits = MQTTProperties()
        limits.maximumPacketSize = 40
        var (small, out2) = connected(v5(properties: limits))
        out2.removeAll()
        _ = small.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: 2)), now: now, output: &out2)
        small.publishRouted(packetIdentifier: 2, reasonCode: .success, properties: properties, output: &out2)
        #expect(out2 == [.puback(AckPacket(packetIdentifier: 2))], "a PUBACK over the client's limit goes without its properties")
    }

    @Test func exceedingReceiveMaximumDisconnectsWith0x93() {
        var (machine, out) = connected(v5())
        out.removeAll()
        for id in 1...2 {
            _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .exactlyOnce, packetIdentifier: UInt16(id))), now: now, output: &out)
            machine.publishRouted(packetIdentifier: UInt16(id), reasonCode: .success, output: &out)
        }
        #expect(out == [.pubrec(AckPacket(packetIdentifier: 1)), .pubrec(AckPacket(packetIdentifier: 2))])
        out.removeAll()
        let action = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .exactlyOnce, packetIdentifier: 3)), now: now, output: &out)
        guard case .close = action else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .receiveMaximumExceeded))])
    }

    @Test func qos2DuplicateIsAcknowledgedButNotRoutedAgain() {
        var (machine, out) = connected(v5())
        out.removeAll()
        let publish = PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .exactlyOnce, packetIdentifier: 9)
        guard case .route = machine.packetReceived(.publish(publish), now: now, output: &out) else {
            Issue.record("expected route")
            return
        }
        machine.publishRouted(packetIdentifier: 9, reasonCode: .success, output: &out)
        var again = publish
        again.dup = true
        guard case .none = machine.packetReceived(.publish(again), now: now, output: &out) else {
            Issue.record("a duplicate must not be routed")
            return
        }
        _ = machine.packetReceived(.pubrel(AckPacket(packetIdentifier: 9)), now: now, output: &out)
        #expect(out == [.pubrec(AckPacket(packetIdentifier: 9)), .pubrec(AckPacket(packetIdentifier: 9)), .pubcomp(AckPacket(packetIdentifier: 9))])
    }

    @Test func inboundTopicAliasIsResolved() {
        var (machine, out) = connected(v5())
        var properties = MQTTProperties()
        properties.topicAlias = 3
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "long/topic", payload: ByteBuffer(), properties: properties)), now: now, output: &out)
        let action = machine.packetReceived(.publish(PublishPacket(topicName: "", payload: ByteBuffer(), properties: properties)), now: now, output: &out)
        guard case .route(let message, _) = action else {
            Issue.record("expected route")
            return
        }
        #expect(message.topic == "long/topic")
    }

    @Test(arguments: [UInt16(0), 5])
    func topicAliasOutOfRangeIs0x94(alias: UInt16) {
        var (machine, out) = connected(v5())
        out.removeAll()
        var properties = MQTTProperties()
        properties.topicAlias = alias
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), properties: properties)), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .topicAliasInvalid))])
    }

    @Test func unknownTopicAliasIsAProtocolError() {
        var (machine, out) = connected(v5())
        out.removeAll()
        var properties = MQTTProperties()
        properties.topicAlias = 2
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "", payload: ByteBuffer(), properties: properties)), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
    }

    @Test func wildcardInPublishTopicIs0x90() {
        var (machine, out) = connected(v5())
        out.removeAll()
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "a/+", payload: ByteBuffer())), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .topicNameInvalid))])
    }

    @Test func outboundWindowFollowsClientReceiveMaximumAndQueues() {
        var properties = MQTTProperties()
        properties.receiveMaximum = 2
        var (machine, out) = connected(v5(properties: properties))
        out.removeAll()
        for _ in 0..<6 { machine.deliver(delivery("t", qos: .atLeastOnce), now: now, output: &out) }
        let ids = out.compactMap { packet -> UInt16? in
            if case .publish(let p) = packet { return p.packetIdentifier }
            return nil
        }
        #expect(ids == [1, 2], "two in flight; three queued (the queue limit); one dropped")
        out.removeAll()
        _ = machine.packetReceived(.puback(AckPacket(packetIdentifier: 1)), now: now, output: &out)
        guard case .publish(let next) = out.first else {
            Issue.record("a PUBACK frees a slot for the queue")
            return
        }
        #expect(next.packetIdentifier == 3)
        guard case .connected(let c) = machine.state else { return }
        #expect(c.session.queue.count == 2)
        #expect(c.session.droppedMessages == 1)
    }

    @Test func resumedSessionResendsInflightWithDup() {
        var state = SessionState()
        let first = state.startOutbound(delivery("a", qos: .atLeastOnce))
        let second = state.startOutbound(delivery("b", qos: .exactlyOnce))
        _ = state.releaseOutbound(second)
        let (_, out) = connected(v5(clean: false), resumed: state)
        guard out.count == 3, case .connack(let ack) = out[0], case .publish(let again) = out[1] else {
            Issue.record("unexpected \(out)")
            return
        }
        #expect(ack.sessionPresent)
        #expect(again.dup && again.packetIdentifier == first && again.topicName == "a")
        #expect(out[2] == .pubrel(AckPacket(packetIdentifier: second)))
    }

    @Test func outboundTopicAliasesWhenClientAllowsThem() {
        var properties = MQTTProperties()
        properties.topicAliasMaximum = 1
        var (machine, out) = connected(v5(properties: properties))
        out.removeAll()
        machine.deliver(delivery("x/y", qos: .atMostOnce), now: now, output: &out)
        machine.deliver(delivery("x/y", qos: .atMostOnce), now: now, output: &out)
        machine.deliver(delivery("other", qos: .atMostOnce), now: now, output: &out)
        let sent = out.compactMap { packet -> PublishPacket? in
            if case .publish(let p) = packet { return p }
            return nil
        }
        #expect(sent.map(\.topicName) == ["x/y", "", "other"])
        #expect(sent.map(\.properties.topicAlias) == [1, 1, nil])
    }

    @Test func publishesOverClientMaximumPacketSizeAreDropped() {
        var properties = MQTTProperties()
        properties.maximumPacketSize = 20
        var (machine, out) = connected(v5(properties: properties))
        out.removeAll()
        var big = delivery("t", qos: .atLeastOnce)
        big.message = MQTTMessage(topic: "t", payload: ByteBuffer(repeating: 0, count: 64), qos: .atLeastOnce, retain: false)
        machine.deliver(big, now: now, output: &out)
        machine.deliver(delivery("t", qos: .atLeastOnce), now: now, output: &out)
        #expect(out.count == 1)
        guard case .connected(let c) = machine.state else { return }
        #expect(c.session.inflightCount == 1, "the dropped one does not hold a slot")
    }

    @Test func expiredMessagesAreNotSent() {
        var (machine, out) = connected(v5())
        out.removeAll()
        var properties = MQTTProperties()
        properties.messageExpiryInterval = 5
        let message = MQTTMessage(topic: "t", payload: ByteBuffer(), qos: .atMostOnce, retain: false, properties: properties, receivedAt: now)
        machine.deliver(MQTTDelivery(message: message, qos: .atMostOnce), now: now + .seconds(2), output: &out)
        machine.deliver(MQTTDelivery(message: message, qos: .atMostOnce), now: now + .seconds(6), output: &out)
        guard out.count == 1, case .publish(let p) = out[0] else {
            Issue.record("unexpected \(out)")
            return
        }
        #expect(p.properties.messageExpiryInterval == 3)
    }

    @Test func normalDisconnectDropsWillAndKeepsSession() {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 100
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(string: "gone"))
        var (machine, out) = connected(v5(properties: properties, will: will))
        let action = machine.packetReceived(.disconnect(DisconnectPacket()), now: now, output: &out)
        guard case .close(let closing) = action else {
            Issue.record("expected close")
            return
        }
        #expect(closing.will == nil)
        #expect(closing.sessionExpiry == 100)
        #expect(closing.session != nil)
    }

    @Test func disconnectWithWillMessagePublishesIt() {
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(string: "gone"))
        var (machine, out) = connected(v5(will: will))
        let action = machine.packetReceived(.disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage)), now: now, output: &out)
        guard case .close(let closing) = action else {
            Issue.record("expected close")
            return
        }
        #expect(closing.will?.will.topic == "w")
        #expect(closing.will?.delay == 0)
    }

    @Test func willDelayIsBoundedBySessionExpiry() {
        var willProperties = MQTTProperties()
        willProperties.willDelayInterval = 50
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 10
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(), properties: willProperties)
        var (machine, _) = connected(v5(properties: properties, will: will))
        guard case .close(let closing) = machine.connectionLost() else {
            Issue.record("expected close")
            return
        }
        #expect(closing.will?.delay == 10)
    }

    @Test func turningExpiryOnAtDisconnectIsAProtocolError() {
        var (machine, out) = connected(v5())
        out.removeAll()
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 10
        _ = machine.packetReceived(.disconnect(DisconnectPacket(properties: properties)), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
    }

    @Test func takeoverSendsSessionTakenOver() {
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer())
        var (machine, out) = connected(v5(will: will))
        out.removeAll()
        guard case .close(let closing) = machine.takenOver(sessionContinues: true, output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver))])
        #expect(closing.will?.delay == 0, "no will delay: the will goes out at takeover")
    }

    @Test func subscribeValidatesFiltersAndMergesCodes() {
        var (machine, out) = connected(v5())
        let subscribe = SubscribePacket(packetIdentifier: 4, subscriptions: [
            Subscription(topicFilter: "a/#", options: .init(qos: .atLeastOnce)),
            Subscription(topicFilter: "a/#/b"),
            Subscription(topicFilter: "$share/g/x", options: .init(qos: .exactlyOnce)),
        ])
        guard case .subscribe(let id, let request, let refused, let count) = machine.packetReceived(.subscribe(subscribe), now: now, output: &out) else {
            Issue.record("expected subscribe")
            return
        }
        #expect(request.subscriptions.map(\.topicFilter) == ["a/#", "$share/g/x"])
        out.removeAll()
        machine.subscribeRouted(packetIdentifier: id, result: MQTTSubscribeResult(reasonCodes: [.grantedQoS1, .grantedQoS2]), refused: refused, count: count, now: now, output: &out)
        #expect(out == [.suback(SubAckPacket(packetIdentifier: 4, reasonCodes: [.grantedQoS1, .topicFilterInvalid, .grantedQoS2]))])
    }

    @Test func noLocalOnSharedSubscriptionIsAProtocolError() {
        var (machine, out) = connected(v5())
        out.removeAll()
        let subscribe = SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "$share/g/x", options: .init(noLocal: true))])
        _ = machine.packetReceived(.subscribe(subscribe), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
    }

    @Test func keepAliveTimeoutSends0x8D() {
        var (machine, out) = connected(v5())
        out.removeAll()
        guard case .close(let closing) = machine.keepAliveExpired(output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .keepAliveTimeout))])
        #expect(closing.reason == .keepAliveTimeout)
    }

    @Test func serverRedirectCarriesServerReference() {
        var (machine, out) = connected(v5())
        out.removeAll()
        var properties = MQTTProperties()
        properties.serverReference = "standby:1883"
        _ = machine.disconnectRequested(.serverMoved, properties: properties, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .serverMoved, properties: properties))])
    }

    @Test func v311ProtocolErrorsCloseWithoutDisconnect() {
        var (machine, out) = connected(ConnectPacket(protocolVersion: .v311, clientIdentifier: "old"))
        out.removeAll()
        guard case .close = machine.packetReceived(.publish(PublishPacket(topicName: "#", payload: ByteBuffer())), now: now, output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out.isEmpty)
    }

    @Test func acknowledgementCallbackRunsOnPubackOnly() {
        var (machine, out) = connected(v5())
        out.removeAll()
        let count = AckCounter()
        var d = delivery("t", qos: .atLeastOnce)
        d.onAcknowledged = { count.hit() }
        machine.deliver(d, now: now, output: &out)
        guard case .publish(let p) = out.first, let id = p.packetIdentifier else {
            Issue.record("not sent")
            return
        }
        #expect(machine.takeAcknowledged().isEmpty, "not before the PUBACK")
        _ = machine.packetReceived(.puback(AckPacket(packetIdentifier: id)), now: now, output: &out)
        for done in machine.takeAcknowledged() { done() }
        _ = machine.packetReceived(.puback(AckPacket(packetIdentifier: id)), now: now, output: &out)
        for done in machine.takeAcknowledged() { done() }
        #expect(count.value == 1, "once, however many PUBACKs come")
    }
}

extension ConnectionStateMachineTests {
    @Test func aDeliveryTooLargeForTheClientCountsAsCompleted() {
        var properties = MQTTProperties()
        properties.maximumPacketSize = 20
        var (machine, out) = connected(v5(properties: properties))
        out.removeAll()
        let count = AckCounter()
        var big = MQTTDelivery(message: MQTTMessage(topic: "t", payload: ByteBuffer(repeating: 0, count: 64), qos: .atLeastOnce, retain: false), qos: .atLeastOnce)
        big.onAcknowledged = { count.hit() }
        machine.deliver(big, now: now, output: &out)
        for done in machine.takeAcknowledged() { done() }
        #expect(out.isEmpty, "not sent")
        #expect(count.value == 1, "but reported as completed (MQTT 5.0 §3.1.2.11.4)")
    }
}

/// A Sendable counter for callbacks in tests.
final class AckCounter: Sendable {
    private let count = Mutex(0)
    func hit() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
