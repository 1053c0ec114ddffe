import Foundation
import RelayCore
import SwiftProtobuf
import Testing

@testable import RelayClient

@Suite("Envelopes")
struct EnvelopeTests {
    @Test("a Send carries the client message id, ciphertexts and reply-to through encoding")
    func sendEncoding() throws {
        let send = Envelopes.send(clientMessageID: "id-1", ciphertext: Data([1, 2, 3]),
                                  deviceCiphertexts: ["bob-phone": Data([4])], replyTo: 7, ttlSeconds: 60)
        let bytes: [UInt8] = try send.serializedBytes()
        let decoded = try Relay_V1_Send(serializedBytes: bytes)
        #expect(decoded.clientMessageID == "id-1")
        #expect(decoded.ciphertext == Data([1, 2, 3]))
        #expect(decoded.deviceCiphertexts == ["bob-phone": Data([4])])
        #expect(decoded.replyToSeq == 7)
        #expect(decoded.ttlSeconds == 60)
        #expect(Envelopes.sendTopic("alice~bob") == "s/alice~bob")
    }

    @Test("endpoints parse host:port, bracketed IPv6 and mqtt:// references")
    func endpoints() throws {
        #expect(try Endpoint(parsing: "relay.example:1884") == Endpoint(host: "relay.example", port: 1884))
        #expect(try Endpoint(parsing: "relay.example") == Endpoint(host: "relay.example", port: 1883))
        #expect(try Endpoint(parsing: "[::1]:1885") == Endpoint(host: "::1", port: 1885))
        #expect(try Endpoint(parsing: "mqtt://10.0.0.1:1886") == Endpoint(host: "10.0.0.1", port: 1886))
        #expect(throws: RelayClientError.self) { try Endpoint(parsing: "host:notaport") }
        #expect(throws: RelayClientError.self) { try Endpoint(parsing: ":1883") }
    }
}

/// RelayClient against a plain mosquitto broker, with the test playing the relay.
@Suite("RelayClient against mosquitto", .serialized, .timeLimit(.minutes(1)))
struct RelayClientBrokerTests {
    static func relayClient(_ broker: TestBroker, device: String = "alice-phone",
                            version: MosquittoClient.ProtocolVersion = .v5,
                            endpoints: [Endpoint]? = nil,
                            adjust: (inout RelayClient.Configuration) -> Void = { _ in }) throws -> RelayClient {
        var configuration = RelayClient.Configuration(
            user: "alice", device: device, token: "t",
            endpoints: endpoints ?? [Endpoint(host: "127.0.0.1", port: broker.port)])
        configuration.protocolVersion = version
        configuration.cleanStart = true
        configuration.statusTimeout = .milliseconds(1)
        configuration.connectTimeout = .seconds(5)
        adjust(&configuration)
        return try RelayClient(configuration: configuration)
    }

    /// A plain MQTT client playing the relay's side.
    static func peer(_ broker: TestBroker, _ filters: [String]) async throws -> (MosquittoClient, Recorder<MosquittoEvent>) {
        let peer = try MosquittoClient(configuration: .init(clientID: "peer-\(UUID().uuidString.prefix(8))"))
        let recorder = Recorder(peer.events)
        _ = try await peer.connect(host: "127.0.0.1", port: broker.port)
        for filter in filters { _ = try await peer.subscribe(filter, qos: 1) }
        return (peer, recorder)
    }

    static func delivery(_ conversation: String, _ seq: UInt64) -> [UInt8] {
        var delivery = Relay_V1_Delivery()
        delivery.conversation = conversation
        delivery.seq = seq
        delivery.epoch = 1
        delivery.fromUser = "bob"
        delivery.clientMessageID = "m\(seq)"
        return try! delivery.serializedBytes()
    }

    static func isMessage(_ event: MosquittoEvent) -> Bool {
        if case .message = event { return true }
        return false
    }

    @Test("connects through the failover list, and yields deliveries in order without duplicates")
    func failoverAndOrderedDeliveries() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let closed = Endpoint(host: "127.0.0.1", port: try TestBroker.freePort())
        let client = try Self.relayClient(broker, endpoints: [closed, Endpoint(host: "127.0.0.1", port: broker.port)])
        defer { client.close() }
        client.resume(after: ["alice~bob": 0])
        let deliveries = Recorder(client.deliveries)
        let endpoint = try await client.connect()
        #expect(endpoint.port == broker.port)

        let (relay, _) = try await Self.peer(broker, [])
        defer { relay.close() }
        for seq: UInt64 in [2, 1, 1, 3, 2] {
            _ = try await relay.publish(topic: "d/alice-phone/m", payload: Self.delivery("alice~bob", seq), qos: 1,
                                        timeout: .seconds(5))
        }
        var seqs: [UInt64] = []
        for _ in 0..<3 {
            guard let delivery = await deliveries.next() else { break }
            seqs.append(delivery.seq)
        }
        #expect(seqs == [1, 2, 3])
        #expect(client.gaps.isEmpty)
        #expect(client.lastReleasedSeqs["alice~bob"] == 3)
    }

    @Test("a send without PUBACK is resent with the same client message id, then fails after the bounded attempts")
    func retriesWithSameID() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let (relay, seen) = try await Self.peer(broker, ["s/#"])
        defer { relay.close() }
        let client = try Self.relayClient(broker) {
            $0.sendTimeout = .milliseconds(300)
            $0.maximumSendAttempts = 3
        }
        defer { client.close() }
        try await client.connect()

        broker.pause()
        do {
            _ = try await client.send(conversation: "alice~bob", ciphertext: Data([0xC1, 0xC2]))
            Issue.record("send succeeded while the broker was frozen")
        } catch RelayClientError.sendFailed(_, let attempts) {
            #expect(attempts == 3)
        }
        broker.resume()

        var ids: [String] = []
        for _ in 0..<3 {
            guard case .message(let message) = await seen.next(where: Self.isMessage) else { break }
            #expect(message.topic == "s/alice~bob")
            let send = try Relay_V1_Send(serializedBytes: message.payload)
            #expect(send.ciphertext == Data([0xC1, 0xC2]))
            ids.append(send.clientMessageID)
        }
        #expect(ids.count == 3)
        #expect(Set(ids).count == 1)

        // With the broker answering again a send succeeds at once.
        let receipt = try await client.send(conversation: "alice~bob", ciphertext: Data([1]))
        #expect(receipt.attempts == 1)
        #expect(receipt.reasonCode < 0x80)
        #expect(!ids.contains(receipt.clientMessageID))
    }

    @Test("a send returns the seq from Status SEQUENCED")
    func sequencedStatus() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let (relay, seen) = try await Self.peer(broker, ["s/#"])
        defer { relay.close() }
        let client = try Self.relayClient(broker) { $0.statusTimeout = .seconds(5) }
        defer { client.close() }
        try await client.connect()
        // The test answers each Send with a Status SEQUENCED, as the relay would.
        let responder = Task {
            guard case .message(let message) = await seen.next(where: Self.isMessage),
                  let send = try? Relay_V1_Send(serializedBytes: message.payload) else { return }
            var status = Relay_V1_Status()
            status.kind = .sequenced
            status.conversation = "alice~bob"
            status.clientMessageID = send.clientMessageID
            status.epoch = 2
            status.seq = 41
            _ = try? await relay.publish(topic: "d/alice-phone/s", payload: try status.serializedBytes(), qos: 1,
                                         timeout: .seconds(5))
        }
        let receipt = try await client.send(conversation: "alice~bob", ciphertext: Data([1]))
        await responder.value
        #expect(receipt.seq == 41)
        #expect(receipt.epoch == 2)
    }

    @Test("requests are answered through response topic + correlation data (5) or request_id (3.1.1)",
          arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func request(version: MosquittoClient.ProtocolVersion) async throws {
        let broker = try TestBroker()
        try await broker.start()
        let (relay, seen) = try await Self.peer(broker, ["q/#"])
        defer { relay.close() }
        let client = try Self.relayClient(broker, version: version)
        defer { client.close() }
        try await client.connect()

        let responder = Task {
            guard case .message(let message) = await seen.next(where: Self.isMessage),
                  let request = try? Relay_V1_Request(serializedBytes: message.payload) else { return }
            var response = Relay_V1_Response()
            response.requestID = request.requestID
            response.presence.user = request.presenceQuery.user
            response.presence.online = message.topic == "q/presence.get"
            let properties = MosquittoProperties(correlationData: message.properties.correlationData)
            _ = try? await relay.publish(topic: message.properties.responseTopic ?? "d/alice-phone/a",
                                         payload: try response.serializedBytes(), qos: 1,
                                         properties: properties, timeout: .seconds(5))
        }
        var request = Relay_V1_Request()
        request.presenceQuery.user = "bob"
        let response = try await client.request("presence.get", request)
        await responder.value
        #expect(response.presence.user == "bob")
        #expect(response.presence.online)
    }

    @Test("receipts go to r/<conversation> at QoS 1 and typing to t/<conversation> at QoS 0")
    func receiptsAndTyping() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let (relay, seen) = try await Self.peer(broker, ["r/#", "t/#"])
        defer { relay.close() }
        let client = try Self.relayClient(broker)
        defer { client.close() }
        try await client.connect()

        try await client.markRead(conversation: "alice~bob", upTo: 12, epoch: 1)
        guard case .message(let receipt) = await seen.next(where: Self.isMessage) else {
            Issue.record("no receipt")
            return
        }
        #expect(receipt.topic == "r/alice~bob")
        #expect(receipt.qos == 1)
        #expect(try Relay_V1_Receipt(serializedBytes: receipt.payload).readUpToSeq == 12)

        try client.typing(conversation: "alice~bob", on: true)
        guard case .message(let typing) = await seen.next(where: Self.isMessage) else {
            Issue.record("no typing")
            return
        }
        #expect(typing.topic == "t/alice~bob")
        #expect(typing.qos == 0)
        #expect(try Relay_V1_Typing(serializedBytes: typing.payload).typing)
        #expect(throws: RelayClientError.invalidConversation("not a conversation")) {
            try client.typing(conversation: "not a conversation", on: true)
        }
    }

    @Test("after the broker restarts the client reconnects by itself and resubscribes d/<device>/#")
    func reconnectsAndResubscribes() async throws {
        let broker = try TestBroker()
        try await broker.start()
        let client = try Self.relayClient(broker) { $0.reconnectDelay = .milliseconds(50) }
        defer { client.close() }
        let connections = Recorder(client.connectionEvents)
        let deliveries = Recorder(client.deliveries)
        try await client.connect()
        #expect(await connections.next() == .connected(Endpoint(host: "127.0.0.1", port: broker.port)))

        try await broker.restart()
        let lost = await connections.next { if case .lost = $0 { true } else { false } }
        #expect(lost != nil)
        let back = await connections.next(timeout: .seconds(20)) { if case .connected = $0 { true } else { false } }
        #expect(back != nil)

        let (relay, _) = try await Self.peer(broker, [])
        defer { relay.close() }
        _ = try await relay.publish(topic: "d/alice-phone/m", payload: Self.delivery("alice~bob", 5), qos: 1,
                                    timeout: .seconds(5))
        let delivery = await deliveries.next()
        #expect(delivery?.seq == 5)
    }
}
