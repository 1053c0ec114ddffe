import MQTT
import NIOCore
import Testing

@testable import MQTTServer

/// Layer 1, event by event: MQTT 3.1 CONNECT, the client's Maximum Packet
/// Size on CONNACK, clean sessions at takeover, acknowledgements of the
/// wrong kind, and which closes drain the client's input (issue 18, issue 10
/// item 13).
extension ConnectionStateMachineTests {
    func v31(_ id: String, clean: Bool = true) -> ConnectPacket {
        ConnectPacket(protocolVersion: .v31, clientIdentifier: id, cleanStart: clean, keepAlive: 60)
    }

    /// CONNECT and authentication only: the action that follows acceptance.
    func authenticate(_ connect: ConnectPacket) -> (ConnectionStateMachine, ConnectionStateMachine.Action, [MQTTPacket]) {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        let first = machine.connectReceived(connect, output: &out)
        guard case .authenticate = first else { return (machine, first, out) }
        let action = machine.authenticated(.accept(MQTTPrincipal()), output: &out)
        return (machine, action, out)
    }

    // MARK: MQTT 3.1

    @Test(arguments: ["", String(repeating: "a", count: 24), String(repeating: "é", count: 24)])
    func v31ClientIdentifierOutside1To23CharactersGetsReturnCode2(id: String) {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        guard case .close(let closing) = machine.connectReceived(v31(id), output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.connack(ConnAckPacket(sessionPresent: false, reasonCode: .clientIdentifierNotValid))])
        #expect(ReasonCode.clientIdentifierNotValid.connectReturnCodeV311 == 2)
        #expect(closing.reason == .refused(.clientIdentifierNotValid))
        #expect(closing.drainsInput, "a refusing CONNACK is read before the close")
    }

    @Test(arguments: ["a", String(repeating: "a", count: 23), String(repeating: "é", count: 23)])
    func v31ClientIdentifierOf1To23CharactersConnectsLikeV311(id: String) {
        let (machine, out) = connected(v31(id, clean: false))
        #expect(out == [.connack(ConnAckPacket(sessionPresent: false, reasonCode: .success))], "no properties in 3.1")
        #expect(machine.version == .v31)
    }

    @Test func v31ProtocolErrorsCloseWithoutDisconnect() {
        var (machine, out) = connected(v31("old"))
        out.removeAll()
        guard case .close(let closing) = machine.packetReceived(.publish(PublishPacket(topicName: "#", payload: ByteBuffer())), now: now, output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out.isEmpty)
        #expect(!closing.drainsInput, "nothing to read: close at once")
    }

    // MARK: The client's Maximum Packet Size binds CONNACK

    func limited(_ maximum: UInt32, id: String = "c1") -> ConnectPacket {
        var properties = MQTTProperties()
        properties.maximumPacketSize = maximum
        return v5(id, properties: properties)
    }

    @Test func connAckTooLargeForTheClientEvenWithoutOptionalPropertiesClosesBeforeTheSession() {
        // The smallest CONNACK this server may send here carries Receive
        // Maximum 2, Maximum Packet Size and Server Keep Alive: 16 bytes.
        for maximum: UInt32 in [2, 5, 15] {
            let (machine, action, out) = authenticate(limited(maximum))
            guard case .close(let closing) = action else {
                Issue.record("expected close for maximum \(maximum), got \(action)")
                continue
            }
            #expect(out.isEmpty, "nothing over \(maximum) bytes is sent")
            #expect(closing.reason == .refused(.packetTooLarge))
            #expect(closing.session == nil, "no session was opened")
            #expect(machine.isClosed)
        }
    }

    @Test func connAckDropsOptionalPropertiesToFitTheClientsMaximum() {
        let (_, full) = connected(v5("c1"))
        guard case .connack(let whole) = full.first else {
            Issue.record("no CONNACK")
            return
        }
        #expect(MQTTPacket.connack(whole).encodedLength(version: .v5) == 27)

        // 19 bytes: the properties that only repeat a default go.
        let (_, at19) = connected(limited(19))
        guard case .connack(let ack19) = at19.first else {
            Issue.record("no CONNACK at 19")
            return
        }
        #expect(MQTTPacket.connack(ack19).encodedLength(version: .v5) <= 19)
        #expect(ack19.properties.retainAvailable == nil && ack19.properties.sharedSubscriptionAvailable == nil)
        #expect(ack19.properties.topicAliasMaximum == 4)

        // 16 bytes: Topic Alias Maximum goes too; what binds the client stays.
        let (machine, at16) = connected(limited(16))
        guard case .connack(let ack16) = at16.first else {
            Issue.record("no CONNACK at 16")
            return
        }
        #expect(MQTTPacket.connack(ack16).encodedLength(version: .v5) <= 16)
        #expect(ack16.properties.topicAliasMaximum == nil)
        #expect(ack16.properties.receiveMaximum == 2)
        #expect(ack16.properties.serverKeepAlive == 30)
        #expect(ack16.properties.maximumPacketSize == configuration.maximumPacketSize)
        #expect(machine.isConnected)
    }

    @Test func assignedClientIdentifierIsNeverDropped() {
        // An assigned identifier (5 + 32 bytes) cannot fit in 40 bytes with the rest.
        let (_, action, out) = authenticate(limited(40, id: ""))
        guard case .close(let closing) = action else {
            Issue.record("expected close, got \(action)")
            return
        }
        #expect(out.isEmpty)
        #expect(closing.reason == .refused(.packetTooLarge))
    }

    @Test func refusingConnAckLosesItsPropertiesBeyondTheClientsMaximum() {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        _ = machine.connectReceived(limited(8), output: &out)
        var properties = MQTTProperties()
        properties.reasonString = "the device is not registered"
        properties.userProperties = [UserProperty(name: "k", value: "v")]
        guard case .close(let closing) = machine.authenticated(.reject(.notAuthorized, properties), output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.connack(ConnAckPacket(reasonCode: .notAuthorized))])
        #expect(closing.drainsInput)

        // Under 5 bytes not even a bare CONNACK fits: close without one.
        var tiny = ConnectionStateMachine(configuration: configuration)
        var none: [MQTTPacket] = []
        _ = tiny.connectReceived(limited(4), output: &none)
        guard case .close(let silent) = tiny.authenticated(.reject(.notAuthorized, properties), output: &none) else {
            Issue.record("expected close")
            return
        }
        #expect(none.isEmpty)
        #expect(!silent.drainsInput)
    }

    @Test func serverDisconnectLosesItsPropertiesBeyondTheClientsMaximum() {
        var (machine, out) = connected(limited(16))
        out.removeAll()
        var properties = MQTTProperties()
        properties.serverReference = "standby.example:1883"
        _ = machine.disconnectRequested(.serverMoved, properties: properties, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .serverMoved))])
    }

    @Test func aServerDisconnectWithACodeDisconnectMayNotCarryGoesOutAsUnspecifiedError() {
        var (machine, out) = connected(v5("c"))
        out.removeAll()
        var properties = MQTTProperties()
        properties.reasonString = "retry shortly"
        // 0x88 Server unavailable is a CONNACK code only (§3.14.2.1).
        _ = machine.disconnectRequested(.serverUnavailable, properties: properties, output: &out)
        #expect(out == [.disconnect(DisconnectPacket(reasonCode: .unspecifiedError, properties: properties))])
        #expect(!ReasonCode.serverUnavailable.isAllowedInDisconnect)
        #expect(ReasonCode.serverBusy.isAllowedInDisconnect)
    }

    // MARK: A clean session is never resumed

    @Test func takeoverOfASessionWithoutExpiryEndsIt() {
        for connect in [ConnectPacket(protocolVersion: .v311, clientIdentifier: "c", cleanStart: true), v5("c")] {
            var (machine, out) = connected(connect)
            out.removeAll()
            guard case .close(let closing) = machine.takenOver(sessionContinues: true, output: &out) else {
                Issue.record("expected close")
                continue
            }
            #expect(!closing.handsOver, "\(connect.protocolVersion): expiry 0, the session ends with its connection")
            #expect(closing.sessionExpiry == 0)
        }
    }

    @Test func takeoverOfAStoredSessionHandsItOver() {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 100
        let will = ConnectPacket.Will(topic: "w", payload: ByteBuffer(), properties: {
            var p = MQTTProperties()
            p.willDelayInterval = 10
            return p
        }())
        for connect in [ConnectPacket(protocolVersion: .v311, clientIdentifier: "c", cleanStart: false), v5("c", clean: false, properties: properties, will: will)] {
            var (machine, out) = connected(connect)
            out.removeAll()
            guard case .close(let closing) = machine.takenOver(sessionContinues: true, output: &out) else {
                Issue.record("expected close")
                continue
            }
            #expect(closing.handsOver, "\(connect.protocolVersion)")
            #expect(closing.will == nil, "a delayed will waits for the session that continues")
        }
    }

    // MARK: Acknowledgements of the wrong kind

    /// A machine with one QoS `qos` delivery in flight, and its packet identifier.
    func inFlight(_ qos: QoS, version: ProtocolVersion) -> (ConnectionStateMachine, UInt16) {
        let connect = version == .v5 ? v5() : ConnectPacket(protocolVersion: version, clientIdentifier: "c")
        var (machine, out) = connected(connect)
        out.removeAll()
        machine.deliver(delivery("t", qos: qos), now: now, output: &out)
        guard case .publish(let p) = out.first, let id = p.packetIdentifier else {
            Issue.record("not sent")
            return (machine, 0)
        }
        return (machine, id)
    }

    @Test(arguments: [ProtocolVersion.v5, .v311, .v31])
    func wrongAcknowledgementKindIsAProtocolError(version: ProtocolVersion) {
        let cases: [(QoS, (UInt16) -> MQTTPacket, String)] = [
            (.atLeastOnce, { .pubrec(AckPacket(packetIdentifier: $0)) }, "PUBREC for QoS 1"),
            (.atLeastOnce, { .pubcomp(AckPacket(packetIdentifier: $0)) }, "PUBCOMP for QoS 1"),
            (.exactlyOnce, { .puback(AckPacket(packetIdentifier: $0)) }, "PUBACK for QoS 2"),
            (.exactlyOnce, { .pubcomp(AckPacket(packetIdentifier: $0)) }, "PUBCOMP for QoS 2 before PUBREC"),
        ]
        for (qos, ack, label) in cases {
            var (machine, id) = inFlight(qos, version: version)
            var out: [MQTTPacket] = []
            guard case .close(let closing) = machine.packetReceived(ack(id), now: now, output: &out) else {
                Issue.record("\(label): expected close")
                continue
            }
            #expect(closing.reason == .protocolViolation(.protocolError), "\(label)")
            if version == .v5 {
                #expect(out == [.disconnect(DisconnectPacket(reasonCode: .protocolError))], "\(label)")
            } else {
                #expect(out.isEmpty, "\(label): 3.1.1 §4.8 closes without a packet")
            }
        }
    }

    @Test func rightAcknowledgementsStillCompleteAndUnknownOnesAreIgnored() {
        var (machine, id) = inFlight(.exactlyOnce, version: .v5)
        var out: [MQTTPacket] = []
        guard case .none = machine.packetReceived(.pubrec(AckPacket(packetIdentifier: id)), now: now, output: &out) else {
            Issue.record("PUBREC for QoS 2 is right")
            return
        }
        #expect(out == [.pubrel(AckPacket(packetIdentifier: id))])
        guard case .none = machine.packetReceived(.pubcomp(AckPacket(packetIdentifier: id)), now: now, output: &out) else {
            Issue.record("PUBCOMP after PUBREL is right")
            return
        }
        guard case .none = machine.packetReceived(.puback(AckPacket(packetIdentifier: 999)), now: now, output: &out) else {
            Issue.record("a PUBACK for no message in flight is ignored")
            return
        }
        guard case .none = machine.packetReceived(.pubcomp(AckPacket(packetIdentifier: id)), now: now, output: &out) else {
            Issue.record("a repeated PUBCOMP is ignored")
            return
        }
        #expect(machine.isConnected)
    }

    // MARK: Which closes drain input

    @Test func closesThatTellTheClientWhyDrainItsInput() {
        var (machine, out) = connected(v5())
        out.removeAll()
        for id in 1...3 {
            if case .close(let closing) = machine.packetReceived(.publish(PublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: UInt16(id))), now: now, output: &out) {
                #expect(id == 3)
                #expect(out == [.disconnect(DisconnectPacket(reasonCode: .receiveMaximumExceeded))])
                #expect(closing.drainsInput, "the client may still be writing; it must read 0x93")
            }
        }
        #expect(machine.isClosed)

        var lost = connected(v5()).0
        guard case .close(let gone) = lost.connectionLost() else {
            Issue.record("expected close")
            return
        }
        #expect(!gone.drainsInput)
    }

    @Test func undecodableConnectIsAnsweredInTheVersionItClaims() {
        var machine = ConnectionStateMachine(configuration: configuration)
        var out: [MQTTPacket] = []
        guard case .close(let closing) = machine.connectFailed(MQTTError(.unsupportedProtocolVersion, "level 7"), answer: .v311, output: &out) else {
            Issue.record("expected close")
            return
        }
        #expect(out == [.connack(ConnAckPacket(reasonCode: .unsupportedProtocolVersion))])
        #expect(closing.drainsInput)

        var silent = ConnectionStateMachine(configuration: configuration)
        var none: [MQTTPacket] = []
        guard case .close(let quiet) = silent.connectFailed(MQTTError(.protocolError, "PINGREQ first"), answer: nil, output: &none) else {
            Issue.record("expected close")
            return
        }
        #expect(none.isEmpty)
        #expect(!quiet.drainsInput)
    }
}
