import MQTT
import NIOCore
import Testing

@testable import MQTTServer

/// Layer 1: server MUSTs of MQTT 5.0 and 3.1.1 that no other test covered,
/// each named by its conformance statement (docs/conformance.md maps every
/// statement to its tests).
extension ConnectionStateMachineTests {
    func qos(_ q: QoS, id: UInt16, topic: String = "t", dup: Bool = false) -> MQTTPacket {
        .publish(PublishPacket(topicName: topic, payload: ByteBuffer(string: "p"), qos: q, dup: dup, packetIdentifier: id))
    }

    // MARK: Will

    /// [MQTT-3.1.2-8], [MQTT-3.1.2-10], [MQTT-3.14.4-3]: only a DISCONNECT
    /// with Normal disconnection (0x00) deletes the will.
    @Test(arguments: [ReasonCode.unspecifiedError, .malformedPacket, .protocolError, .implementationSpecificError])
    func willIsPublishedAfterADisconnectWithAnErrorCode(code: ReasonCode) {
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(string: "gone"))
        var (machine, out) = connected(v5(will: will))
        guard case .close(let closing) = machine.packetReceived(.disconnect(DisconnectPacket(reasonCode: code)), now: now, output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(closing.will?.will.topic == "w", "DISCONNECT \(code) keeps the will")
        #expect(closing.reason == .clientDisconnected(code))
    }

    /// MQTT 3.1.1 [MQTT-3.14.4-3]: a DISCONNECT (which has no reason code)
    /// discards the will.
    @Test func v311DisconnectDiscardsTheWill() {
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(string: "gone"))
        var (machine, out) = connected(ConnectPacket(protocolVersion: .v311, clientIdentifier: "c", will: will))
        guard case .close(let closing) = machine.packetReceived(.disconnect(DisconnectPacket()), now: now, output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(closing.will == nil)
    }

    // MARK: Message expiry

    /// [MQTT-4.3.3-7], [MQTT-3.3.2-5]: a message whose PUBLISH was sent is
    /// not expired afterwards; on resumption it is sent again (DUP) even
    /// when its interval has passed, with what is left of it (0).
    @Test func anExpiredMessageAlreadySentIsResentOnResumption() {
        var properties = MQTTProperties()
        properties.messageExpiryInterval = 1
        var state = SessionState()
        var ids: [UInt16] = []
        for q in [QoS.atLeastOnce, .exactlyOnce] {
            // Received at 0 with 1 s to live; the machine resumes at 1 s.
            let message = MQTTMessage(topic: "t", payload: ByteBuffer(string: "x"), qos: q, retain: false, properties: properties, receivedAt: .uptimeNanoseconds(0))
            ids.append(state.startOutbound(MQTTDelivery(message: message, qos: q)))
        }
        let (_, out) = connected(v5(clean: false), resumed: state)
        let resent = out.compactMap { packet -> PublishPacket? in
            if case .publish(let p) = packet { return p }
            return nil
        }
        #expect(resent.map(\.packetIdentifier) == ids.map { $0 })
        #expect(resent.allSatisfy { $0.dup })
        #expect(resent.map(\.properties.messageExpiryInterval) == [0, 0])
    }

    /// [MQTT-3.3.2-5] for a 3.1.1 subscriber: an expired message not yet
    /// sent is dropped, one already sent is still resent.
    @Test func v311ExpiryAppliesOnlyBeforeTheFirstSend() {
        var properties = MQTTProperties()
        properties.messageExpiryInterval = 1
        let message = MQTTMessage(topic: "t", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, retain: false, properties: properties, receivedAt: .uptimeNanoseconds(0))
        var state = SessionState()
        let id = state.startOutbound(MQTTDelivery(message: message, qos: .atLeastOnce))
        var (machine, out) = connected(ConnectPacket(protocolVersion: .v311, clientIdentifier: "c", cleanStart: false), resumed: state)
        guard out.count == 2, case .publish(let again) = out[1] else {
            Issue.record("unexpected \(out)")
            return
        }
        #expect(again.dup && again.packetIdentifier == id)
        out.removeAll()
        machine.deliver(MQTTDelivery(message: message, qos: .atLeastOnce), now: now, output: &out)
        #expect(out.isEmpty, "not sent yet and expired: dropped")
    }

    // MARK: Flow control

    /// [MQTT-4.9.0-3], [MQTT-3.3.4-10]: with the send quota at 0 the server
    /// still answers every other packet.
    @Test func otherPacketsAreAnsweredWhileTheSendQuotaIsZero() {
        var properties = MQTTProperties()
        properties.receiveMaximum = 1
        var (machine, out) = connected(v5(properties: properties))
        out.removeAll()
        machine.deliver(delivery("t", qos: .atLeastOnce), now: now, output: &out)
        machine.deliver(delivery("t", qos: .atLeastOnce), now: now, output: &out)
        #expect(out.count == 1, "quota 1: the second waits")
        out.removeAll()
        _ = machine.packetReceived(.pingreq, now: now, output: &out)
        #expect(out == [.pingresp])
        out.removeAll()
        guard case .route = machine.packetReceived(qos(.atLeastOnce, id: 4), now: now, output: &out) else {
            Issue.record("a PUBLISH from the client is still taken")
            return
        }
        machine.publishRouted(packetIdentifier: 4, reasonCode: .success, output: &out)
        #expect(out == [.puback(AckPacket(packetIdentifier: 4))])
    }

    // MARK: QoS flows, the server receiving

    /// [MQTT-4.3.2-4], [MQTT-4.3.2-5]: after its PUBACK, a PUBLISH with the
    /// same packet identifier is a new message, DUP or not.
    @Test func qos1IdentifierIsANewMessageAfterItsPuback() {
        var (machine, out) = connected(v5())
        out.removeAll()
        for dup in [false, true] {
            guard case .route(_, let id) = machine.packetReceived(qos(.atLeastOnce, id: 7, dup: dup), now: now, output: &out) else {
                Issue.record("dup \(dup): expected route")
                return
            }
            #expect(id == 7)
            machine.publishRouted(packetIdentifier: 7, reasonCode: .success, output: &out)
        }
        #expect(out == [.puback(AckPacket(packetIdentifier: 7)), .puback(AckPacket(packetIdentifier: 7))])
    }

    /// [MQTT-4.3.3-9]: after a PUBREC of 0x80 or above, a PUBLISH with that
    /// identifier is a new message.
    @Test func qos2AfterAFailingPubrecIsANewMessage() {
        var (machine, out) = connected(v5())
        out.removeAll()
        guard case .route = machine.packetReceived(qos(.exactlyOnce, id: 5), now: now, output: &out) else {
            Issue.record("expected route")
            return
        }
        machine.publishRouted(packetIdentifier: 5, reasonCode: .notAuthorized, output: &out)
        #expect(out == [.pubrec(AckPacket(packetIdentifier: 5, reasonCode: .notAuthorized))])
        guard case .route = machine.packetReceived(qos(.exactlyOnce, id: 5, dup: true), now: now, output: &out) else {
            Issue.record("a refused identifier is free again: the PUBLISH is routed")
            return
        }
    }

    /// [MQTT-4.3.3-11], [MQTT-4.3.3-12]: PUBREL is answered with PUBCOMP of
    /// the same identifier, after which the identifier is a new message;
    /// a PUBREL for an identifier unknown gets PUBCOMP 0x92.
    @Test func pubrelIsAnsweredWithPubcompAndFreesTheIdentifier() {
        var (machine, out) = connected(v5())
        out.removeAll()
        _ = machine.packetReceived(qos(.exactlyOnce, id: 6), now: now, output: &out)
        machine.publishRouted(packetIdentifier: 6, reasonCode: .success, output: &out)
        _ = machine.packetReceived(.pubrel(AckPacket(packetIdentifier: 6)), now: now, output: &out)
        #expect(out == [.pubrec(AckPacket(packetIdentifier: 6)), .pubcomp(AckPacket(packetIdentifier: 6))])
        guard case .route = machine.packetReceived(qos(.exactlyOnce, id: 6), now: now, output: &out) else {
            Issue.record("after PUBCOMP the identifier names a new message")
            return
        }
        out.removeAll()
        _ = machine.packetReceived(.pubrel(AckPacket(packetIdentifier: 99)), now: now, output: &out)
        #expect(out == [.pubcomp(AckPacket(packetIdentifier: 99, reasonCode: .packetIdentifierNotFound))])
    }

    // MARK: QoS flows, the server sending

    /// [MQTT-3.3.1-2], [MQTT-4.3.1-1], [MQTT-4.3.2-2], [MQTT-4.3.3-2],
    /// [MQTT-2.2.1-2], [MQTT-2.2.1-4]: a first send has DUP 0; QoS 0 has no
    /// packet identifier; QoS 1 and 2 get distinct non-zero ones.
    @Test func firstSendsHaveDup0AndIdentifiersOnlyAboveQoS0() {
        var (machine, out) = connected(v5())
        out.removeAll()
        for q in [QoS.atMostOnce, .atLeastOnce, .exactlyOnce, .atLeastOnce] {
            machine.deliver(delivery("t", qos: q), now: now, output: &out)
        }
        let sent = out.compactMap { packet -> PublishPacket? in
            if case .publish(let p) = packet { return p }
            return nil
        }
        #expect(sent.count == 4)
        #expect(sent.allSatisfy { !$0.dup })
        #expect(sent[0].packetIdentifier == nil)
        let ids = sent.dropFirst().compactMap(\.packetIdentifier)
        #expect(ids.count == 3 && Set(ids).count == 3 && !ids.contains(0))
    }

    /// [MQTT-4.3.3-3]..[MQTT-4.3.3-6], [MQTT-4.4.0-2]: PUBREC is answered
    /// with PUBREL; after PUBREL only PUBREL is resent, never the PUBLISH;
    /// a PUBREC of 0x80 or above ends the flow with nothing resent.
    @Test func serverQoS2FlowResendsPubrelNotPublishAndStopsOnAFailingPubrec() {
        var (machine, out) = connected(v5())
        out.removeAll()
        machine.deliver(delivery("a", qos: .exactlyOnce), now: now, output: &out)
        machine.deliver(delivery("b", qos: .exactlyOnce), now: now, output: &out)
        let ids = out.compactMap { packet -> UInt16? in
            if case .publish(let p) = packet { return p.packetIdentifier }
            return nil
        }
        guard ids.count == 2 else {
            Issue.record("unexpected \(out)")
            return
        }
        out.removeAll()
        _ = machine.packetReceived(.pubrec(AckPacket(packetIdentifier: ids[0])), now: now, output: &out)
        _ = machine.packetReceived(.pubrec(AckPacket(packetIdentifier: ids[1], reasonCode: .unspecifiedError)), now: now, output: &out)
        #expect(out == [.pubrel(AckPacket(packetIdentifier: ids[0]))])
        guard case .connected(let c) = machine.state else { return }
        // The session as the next connection resumes it.
        let (_, again) = connected(v5(clean: false), resumed: c.session)
        #expect(Array(again.dropFirst()) == [.pubrel(AckPacket(packetIdentifier: ids[0]))])
    }

    // MARK: Connection

    /// [MQTT-3.1.4-6] (3.1.1 [MQTT-3.1.4-5]): after refusing a CONNECT the
    /// server processes nothing the client sends.
    @Test func aRefusedConnectionProcessesNothingMore() {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        guard case .close = machine.connectReceived(ConnectPacket(protocolVersion: .v311, clientIdentifier: "", cleanStart: false), output: &out) else {
            Issue.record("expected refusal")
            return
        }
        out.removeAll()
        for packet in [qos(.atLeastOnce, id: 1), .pingreq, .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [Subscription(topicFilter: "#")]))] {
            guard case .none = machine.packetReceived(packet, now: now, output: &out) else {
                Issue.record("\(packet) was processed")
                return
            }
        }
        #expect(out.isEmpty)
    }

    /// [MQTT-3.3.2-7]: topic aliases do not carry from one connection to the
    /// next, even when the session does.
    @Test func inboundTopicAliasesEndWithTheConnection() {
        var alias = MQTTProperties()
        alias.topicAlias = 1
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 100
        var (first, out) = connected(v5(clean: false, properties: properties))
        _ = first.packetReceived(.publish(PublishPacket(topicName: "long/topic", payload: ByteBuffer(), properties: alias)), now: now, output: &out)
        guard case .connected(let c) = first.state else { return }
        var (second, again) = connected(v5(clean: false, properties: properties), resumed: c.session)
        again.removeAll()
        _ = second.packetReceived(.publish(PublishPacket(topicName: "", payload: ByteBuffer(), properties: alias)), now: now, output: &again)
        #expect(again == [.disconnect(DisconnectPacket(reasonCode: .protocolError))], "alias 1 is unknown on the new connection")
    }

    /// [MQTT-3.14.2-2], [MQTT-3.14.0-1]: a server DISCONNECT never carries
    /// Session Expiry Interval, and none is sent before a successful CONNACK.
    @Test func serverDisconnectsCarryNoSessionExpiry() {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 100
        var (machine, out) = connected(v5(properties: properties))
        out.removeAll()
        _ = machine.keepAliveExpired(output: &out)
        guard case .disconnect(let d) = out.first else {
            Issue.record("no DISCONNECT: \(out)")
            return
        }
        #expect(d.reasonCode == .keepAliveTimeout)
        #expect(d.properties.sessionExpiryInterval == nil)

        var connecting = ConnectionStateMachine(configuration: configuration)
        var none: [MQTTPacket] = []
        _ = connecting.connectReceived(v5(), output: &none)
        _ = connecting.packetReceived(.pingreq, now: now, output: &none)
        #expect(none.isEmpty, "no DISCONNECT before the CONNACK")
    }

    /// [MQTT-3.2.2-1], [MQTT-3.2.2-6], 3.1.1 [MQTT-3.2.2-4]: a refusing
    /// CONNACK has Session Present 0 (reserved flag bits are the codec's,
    /// which writes only Session Present).
    @Test func refusingConnAckHasSessionPresent0() {
        for version in [ProtocolVersion.v5, .v311] {
            var machine = ConnectionStateMachine(configuration: configuration)
            var out: [MQTTPacket] = []
            _ = machine.connectReceived(ConnectPacket(protocolVersion: version, clientIdentifier: "c", cleanStart: false), output: &out)
            _ = machine.authenticated(.reject(.notAuthorized, MQTTProperties()), output: &out)
            guard case .connack(let ack) = out.first else {
                Issue.record("\(version): no CONNACK")
                continue
            }
            #expect(!ack.sessionPresent)
            #expect(ack.reasonCode == .notAuthorized)
        }
    }

    // MARK: What the client may not send

    /// [MQTT-3.3.4-6]: a client's PUBLISH carrying a Subscription
    /// Identifier is a Protocol Error.
    @Test func subscriptionIdentifierInAClientPublishIsAProtocolError() {
        var (machine, out) = connected(v5())
        out.removeAll()
        var properties = MQTTProperties()
        properties.subscriptionIdentifiers = [3]
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), properties: properties)), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
    }

    /// [MQTT-3.3.2-1], [MQTT-4.7.3-1]: a PUBLISH needs a topic (5.0: or a
    /// Topic Alias): empty, it is a Protocol Error in 5.0 and closes a
    /// 3.1.1 connection.
    @Test func emptyTopicWithoutAnAliasIsRefused() {
        var (machine, out) = connected(v5())
        out.removeAll()
        _ = machine.packetReceived(.publish(PublishPacket(topicName: "", payload: ByteBuffer())), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])

        var (old, none) = connected(ConnectPacket(protocolVersion: .v311, clientIdentifier: "c"))
        none.removeAll()
        guard case .close = old.packetReceived(.publish(PublishPacket(topicName: "", payload: ByteBuffer())), now: now, output: &none) else {
            Issue.record("3.1.1: expected close")
            return
        }
        #expect(none.isEmpty)
    }

    /// [MQTT-4.12.0-7] (the server's side) and §4.13: AUTH from a client
    /// that did not start enhanced authentication is a Protocol Error.
    @Test func authWithoutEnhancedAuthenticationIsAProtocolError() {
        var (machine, out) = connected(v5())
        out.removeAll()
        _ = machine.packetReceived(.auth(AuthPacket()), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))])
    }

    /// [MQTT-4.12.0-1]: an Authentication Method the server does not
    /// support is refused (0x8C) and the connection closed.
    @Test func authenticationMethodIsRefusedWith0x8C() {
        var properties = MQTTProperties()
        properties.authenticationMethod = "SCRAM-SHA-1"
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        guard case .close = machine.connectReceived(v5(properties: properties), output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.connack(ConnAckPacket(reasonCode: .badAuthenticationMethod))])
    }

    /// [MQTT-3.2.2-13]: a will with Will Retain on a server without retained
    /// messages is refused (0x9A); so is a retained PUBLISH (§3.2.2.3.5).
    @Test func retainOnAServerWithoutRetainIsRefused() {
        var noRetain = configuration
        noRetain.retainAvailable = false
        var machine = ConnectionStateMachine(configuration: noRetain)
        var out: [MQTTPacket] = []
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(), retain: true)
        guard case .close = machine.connectReceived(v5(will: will), output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.connack(ConnAckPacket(reasonCode: .retainNotSupported))])

        var publisher = ConnectionStateMachine(configuration: noRetain)
        out.removeAll()
        _ = publisher.connectReceived(v5(), output: &out)
        _ = publisher.authenticated(.accept(MQTTPrincipal()), output: &out)
        _ = publisher.sessionOpened(resumed: nil, now: now, output: &out)
        guard case .connack(let ack) = out.first else {
            Issue.record("no CONNACK")
            return
        }
        #expect(ack.properties.retainAvailable == 0)
        out.removeAll()
        _ = publisher.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), retain: true)), now: now, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .retainNotSupported))])
    }

    /// [MQTT-3.1.2-28]: the server sends no Response Information (it offers
    /// none, asked or not); [MQTT-4.12.0-6]: nor an Authentication Method.
    @Test func connAckCarriesNoResponseInformationNorAuthenticationMethod() {
        for asked: UInt8 in [0, 1] {
            var properties = MQTTProperties()
            properties.requestResponseInformation = asked
            let (_, out) = connected(v5(properties: properties))
            guard case .connack(let ack) = out.first else {
                Issue.record("no CONNACK")
                continue
            }
            #expect(ack.properties.responseInformation == nil)
            #expect(ack.properties.authenticationMethod == nil)
        }
    }

    // MARK: More flows

    /// [MQTT-4.4.0-2]: a PUBACK of 0x80 or above ends the flow; the message
    /// is not sent again, not even on resumption.
    @Test func failingPubackCompletesTheMessage() {
        var (machine, out) = connected(v5(clean: false))
        out.removeAll()
        machine.deliver(delivery("t", qos: .atLeastOnce), now: now, output: &out)
        guard case .publish(let p) = out.first, let id = p.packetIdentifier else {
            Issue.record("not sent: \(out)")
            return
        }
        out.removeAll()
        _ = machine.packetReceived(.puback(AckPacket(packetIdentifier: id, reasonCode: .unspecifiedError)), now: now, output: &out)
        #expect(out.isEmpty)
        guard case .connected(let c) = machine.state else { return }
        #expect(c.session.inflightCount == 0)
        let (_, again) = connected(v5(clean: false), resumed: c.session)
        #expect(again.count == 1, "only the CONNACK: nothing to resend")
    }

    /// [MQTT-3.5.2-2], [MQTT-3.5.2-3]: a PUBREC's Reason String and User
    /// Properties are left out when they would exceed the client's maximum.
    @Test func pubrecPropertiesAreDroppedBeyondTheClientsMaximum() {
        var limits = MQTTProperties()
        limits.maximumPacketSize = 40
        var (machine, out) = connected(v5(properties: limits))
        out.removeAll()
        var properties = MQTTProperties()
        properties.reasonString = String(repeating: "r", count: 64)
        _ = machine.packetReceived(qos(.exactlyOnce, id: 3), now: now, output: &out)
        machine.publishRouted(packetIdentifier: 3, reasonCode: .notAuthorized, properties: properties, output: &out)
        #expect(out == [.pubrec(AckPacket(packetIdentifier: 3, reasonCode: .notAuthorized))])
    }

    /// [MQTT-3.10.4-3]: an UNSUBSCRIBE leaves the messages already in flight
    /// to complete.
    @Test func unsubscribeLeavesMessagesInFlight() {
        var (machine, out) = connected(v5())
        out.removeAll()
        machine.deliver(delivery("t", qos: .exactlyOnce), now: now, output: &out)
        guard case .publish(let p) = out.first, let id = p.packetIdentifier else {
            Issue.record("not sent: \(out)")
            return
        }
        guard case .unsubscribe = machine.packetReceived(.unsubscribe(UnsubscribePacket(packetIdentifier: 9, topicFilters: ["t"])), now: now, output: &out) else {
            Issue.record("expected the router to be asked")
            return
        }
        out.removeAll()
        _ = machine.packetReceived(.pubrec(AckPacket(packetIdentifier: id)), now: now, output: &out)
        #expect(out == [.pubrel(AckPacket(packetIdentifier: id))], "the flow goes on")
        _ = machine.packetReceived(.pubcomp(AckPacket(packetIdentifier: id)), now: now, output: &out)
        guard case .connected(let c) = machine.state else { return }
        #expect(c.session.inflightCount == 0)
    }
}
