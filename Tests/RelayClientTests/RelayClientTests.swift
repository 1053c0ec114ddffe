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
        // The tests that play the relay answer q/deliveries.compact only where they ask for it.
        configuration.compactDeliveries = false
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

    static func compactDelivery(generation: UInt32 = 0, conversationRef: UInt32, conversation: String = "",
                                senderRef: UInt32, sender: (user: String, device: String)? = nil, seq: UInt64) -> [UInt8] {
        var delivery = Relay_V1_Delivery()
        delivery.refsGeneration = generation
        delivery.conversationRef = conversationRef
        delivery.conversation = conversation
        if !conversation.isEmpty { delivery.epoch = 1 }
        delivery.senderRef = senderRef
        if let sender {
            delivery.fromUser = sender.user
            delivery.fromDevice = sender.device
        }
        delivery.seq = seq
        delivery.serverTimeMs = 1_765_000_000_000
        delivery.ciphertext = Data([UInt8(truncatingIfNeeded: seq)])
        return try! delivery.serializedBytes()
    }

    @Test("asks for compact deliveries, resolves them, and looks up one whose ref it does not know",
          arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func compactDeliveries(version: MosquittoClient.ProtocolVersion) async throws {
        let broker = try TestBroker()
        try await broker.start()
        let (relay, seen) = try await Self.peer(broker, ["q/#"])
        defer { relay.close() }
        let client = try Self.relayClient(broker, version: version) { $0.compactDeliveries = true }
        defer { client.close() }
        let deliveries = Recorder(client.deliveries)

        // The relay's side: the first q/deliveries.compact is answered with an empty table (a new
        // session's), later ones with generation 1's once every delivery is published (so both
        // unknown refs wait for the same answer); history.sync with the full message asked for.
        let answeredFirst = AsyncStream<Void>.makeStream()
        let published = AsyncStream<Void>.makeStream()
        let responder = Task {
            var compactRequests = 0
            var gate = published.stream.makeAsyncIterator()
            while case .message(let message)? = await seen.next(timeout: .seconds(30), where: Self.isMessage) {
                guard let request = try? Relay_V1_Request(serializedBytes: message.payload) else { continue }
                var response = Relay_V1_Response()
                response.requestID = request.requestID
                switch request.body {
                case .compactDeliveries(let ask)?:
                    compactRequests += 1
                    response.compactRefs.on = ask.on
                    if compactRequests > 1 {
                        _ = await gate.next()
                        response.compactRefs.generation = 1
                        response.compactRefs.conversations = ["alice~bob", "alice~carol"]
                        response.compactRefs.epochs = [1, 1]
                        response.compactRefs.senders = [("bob", "bob-phone"), ("carol", "carol-phone")].map { user, device in
                            var sender = Relay_V1_CompactSender()
                            sender.user = user
                            sender.device = device
                            return sender
                        }
                    }
                case .historySync(let sync)?:
                    var full = Relay_V1_Delivery()
                    full.conversation = sync.conversation
                    full.epoch = 1
                    full.seq = sync.afterSeq + 1
                    full.fromUser = "carol"
                    full.fromDevice = "carol-phone"
                    full.clientMessageID = "carol-\(full.seq)"
                    response.history.conversation = sync.conversation
                    response.history.messages = [full]
                default:
                    continue
                }
                let properties = MosquittoProperties(correlationData: message.properties.correlationData)
                _ = try? await relay.publish(topic: message.properties.responseTopic ?? "d/alice-phone/a",
                                             payload: try response.serializedBytes(), qos: 1,
                                             properties: properties, timeout: .seconds(5))
                if compactRequests == 1 && request.compactDeliveries.on { answeredFirst.continuation.yield() }
            }
        }
        defer { responder.cancel() }
        try await client.connect()
        var answered = answeredFirst.stream.makeAsyncIterator()
        _ = await answered.next()

        let bob = (user: "bob", device: "bob-phone")
        for payload in [
            Self.compactDelivery(generation: 1, conversationRef: 1, conversation: "alice~bob", senderRef: 1, sender: bob, seq: 1),
            Self.compactDelivery(conversationRef: 1, senderRef: 1, seq: 2),
            // Refs the client was never told: ref 9 is in no table, ref 2 is in the relay's.
            Self.compactDelivery(conversationRef: 9, senderRef: 1, seq: 4),
            Self.compactDelivery(conversationRef: 2, senderRef: 2, seq: 7),
        ] {
            _ = try await relay.publish(topic: "d/alice-phone/m", payload: payload, qos: 1, timeout: .seconds(5))
        }
        published.continuation.yield()
        var got: [Relay_V1_Delivery] = []
        for _ in 0..<3 {
            guard let delivery = await deliveries.next() else { break }
            got.append(delivery)
        }
        #expect(got.map(\.conversation) == ["alice~bob", "alice~bob", "alice~carol"])
        #expect(got.map(\.seq) == [1, 2, 7])
        #expect(got.map(\.fromDevice) == ["bob-phone", "bob-phone", "carol-phone"])
        #expect(got.allSatisfy { $0.conversationRef == 0 && $0.senderRef == 0 && $0.refsGeneration == 0 && $0.epoch == 1 })
        // Looked up in full (history.sync), the client message id too.
        #expect(got.last?.clientMessageID == "carol-7")
        // Ref 9 was looked up first (in arrival order) and could not be placed: counted.
        #expect(client.unresolvedDeliveries == 1)
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
