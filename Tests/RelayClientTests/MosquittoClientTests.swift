import Foundation
import Testing

@testable import RelayClient

/// MosquittoClient against a real mosquitto broker on loopback.
@Suite("MosquittoClient against mosquitto", .serialized, .timeLimit(.minutes(1)))
struct MosquittoClientTests {
    static func client(_ id: String, _ version: MosquittoClient.ProtocolVersion = .v5) throws -> MosquittoClient {
        try MosquittoClient(configuration: .init(clientID: "\(id)-\(UUID().uuidString.prefix(8))",
                                                 protocolVersion: version))
    }

    @Test("connect, subscribe, QoS 1 round trip", arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func roundTrip(version: MosquittoClient.ProtocolVersion) async throws {
        let broker = try TestBroker()
        try await broker.start()
        let subscriber = try Self.client("sub", version)
        let publisher = try Self.client("pub", version)
        defer {
            subscriber.close()
            publisher.close()
        }
        let received = Recorder(subscriber.events)

        let ack = try await subscriber.connect(host: "127.0.0.1", port: broker.port)
        #expect(ack.isAccepted)
        #expect(!ack.sessionPresent)
        let suback = try await subscriber.subscribe("d/dev1/#", qos: 1)
        #expect(suback.reasonCodes == [1])

        _ = try await publisher.connect(host: "127.0.0.1", port: broker.port)
        let puback = try await publisher.publish(topic: "d/dev1/m", payload: [1, 2, 3], qos: 1,
                                                 timeout: .seconds(5))
        #expect(puback.isSuccess)

        let event = await received.next { if case .message = $0 { true } else { false } }
        guard case .message(let message) = event else {
            Issue.record("no message")
            return
        }
        #expect(message.topic == "d/dev1/m")
        #expect(message.payload == [1, 2, 3])
        #expect(message.qos == 1)

        try subscriber.disconnect()
        let gone = await received.next { if case .disconnected = $0 { true } else { false } }
        guard case .disconnected(let disconnection) = gone else {
            Issue.record("no disconnection")
            return
        }
        #expect(disconnection.wasRequested)
    }

    @Test("response topic and correlation data survive a request/response round trip (MQTT 5)")
    func requestResponse() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let requester = try Self.client("req")
        let responder = try Self.client("resp")
        defer {
            requester.close()
            responder.close()
        }
        let requesterEvents = Recorder(requester.events)
        let responderEvents = Recorder(responder.events)
        _ = try await requester.connect(host: "127.0.0.1", port: broker.port)
        _ = try await responder.connect(host: "127.0.0.1", port: broker.port)
        _ = try await requester.subscribe("d/req/a", qos: 1)
        _ = try await responder.subscribe("q/#", qos: 1)

        let correlation: [UInt8] = [0xDE, 0xAD, 0x00, 0xBE, 0xEF]
        let properties = MosquittoProperties(responseTopic: "d/req/a", correlationData: correlation,
                                             userProperties: [.init("k", "v")])
        _ = try await requester.publish(topic: "q/presence.get", payload: Array("ask".utf8), qos: 1,
                                        properties: properties, timeout: .seconds(5))

        guard case .message(let request) = await responderEvents.next(where: { if case .message = $0 { true } else { false } }) else {
            Issue.record("no request")
            return
        }
        #expect(request.topic == "q/presence.get")
        #expect(request.properties.responseTopic == "d/req/a")
        #expect(request.properties.correlationData == correlation)
        #expect(request.properties.userProperties == [.init("k", "v")])

        let topic = try #require(request.properties.responseTopic)
        _ = try await responder.publish(topic: topic, payload: Array("answer".utf8), qos: 1,
                                        properties: MosquittoProperties(correlationData: request.properties.correlationData),
                                        timeout: .seconds(5))
        guard case .message(let response) = await requesterEvents.next(where: { if case .message = $0 { true } else { false } }) else {
            Issue.record("no response")
            return
        }
        #expect(response.topic == "d/req/a")
        #expect(response.payload == Array("answer".utf8))
        #expect(response.properties.correlationData == correlation)
    }

    @Test("a topic alias set on one publish stands for the topic on the next (MQTT 5)")
    func topicAlias() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let subscriber = try Self.client("sub")
        let publisher = try Self.client("pub")
        defer {
            subscriber.close()
            publisher.close()
        }
        let events = Recorder(subscriber.events)
        _ = try await subscriber.connect(host: "127.0.0.1", port: broker.port)
        _ = try await subscriber.subscribe("s/#", qos: 1)
        _ = try await publisher.connect(host: "127.0.0.1", port: broker.port)
        _ = try await publisher.publish(topic: "s/alice~bob", payload: [1], qos: 1,
                                        properties: MosquittoProperties(topicAlias: 1), timeout: .seconds(5))
        _ = try await publisher.publish(topic: "", payload: [2], qos: 1,
                                        properties: MosquittoProperties(topicAlias: 1), timeout: .seconds(5))
        for expected: UInt8 in [1, 2] {
            guard case .message(let m) = await events.next(where: { if case .message = $0 { true } else { false } }) else {
                Issue.record("no message \(expected)")
                return
            }
            #expect(m.topic == "s/alice~bob")
            #expect(m.payload == [expected])
        }
    }

    @Test("reconnects after the broker restarts and works again")
    func reconnectAfterRestart() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let client = try Self.client("dev")
        defer { client.close() }
        let events = Recorder(client.events)
        _ = try await client.connect(host: "127.0.0.1", port: broker.port)
        _ = try await client.subscribe("d/dev/#", qos: 1)

        try await broker.stop()
        guard case .disconnected(let lost) = await events.next(where: { if case .disconnected = $0 { true } else { false } }) else {
            Issue.record("no disconnection seen")
            return
        }
        #expect(!lost.wasRequested)
        #expect(!client.isLinkUp)

        try await broker.start()
        // The broker listens again (start waited for it): one connect must do.
        let ack = try await client.connect(host: "127.0.0.1", port: broker.port)
        #expect(ack.isAccepted)
        _ = try await client.subscribe("d/dev/#", qos: 1)
        _ = try await client.publish(topic: "d/dev/m", payload: [9], qos: 1, timeout: .seconds(5))
        guard case .message(let m) = await events.next(where: { if case .message = $0 { true } else { false } }) else {
            Issue.record("no message after reconnect")
            return
        }
        #expect(m.payload == [9])
    }

    @Test("connecting to a closed port throws a typed libmosquitto error")
    func connectionRefused() async throws {
        let port = try TestBroker.freePort()
        let client = try Self.client("nobody")
        defer { client.close() }
        await #expect(throws: MosquittoError.self) {
            _ = try await client.connect(host: "127.0.0.1", port: port)
        }
        #expect(!client.isLinkUp)
    }

    @Test("a second connect while connected is refused as busy")
    func busy() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let client = try Self.client("dev")
        defer { client.close() }
        _ = try await client.connect(host: "127.0.0.1", port: broker.port)
        await #expect(throws: MosquittoClientError.busy) {
            _ = try await client.connect(host: "127.0.0.1", port: broker.port)
        }
    }
}
