import Foundation
import MQTT
import NIOCore
import NIOPosix
import RelayCore
import SwiftProtobuf

/// Everything one `relay-bench wire` run needs.
struct WireConfiguration: Sendable {
    var host: String
    var port: Int
    var messages: Int
    var payloadSize: Int
    var variants: [WireVariant]
    var setupTimeout: TimeAmount
    var messageTimeout: TimeAmount
    var label: String?
}

/// One way of speaking MQTT whose bytes are counted.
struct WireVariant: Sendable, Hashable {
    var name: String
    var device: ChatDeviceOptions
    /// The recipient asks for compact deliveries (`q/deliveries.compact`) before the messages.
    var compact = false

    static let all = [
        WireVariant(name: "3.1.1", device: ChatDeviceOptions(version: .v311, topicAliases: false)),
        WireVariant(name: "5", device: ChatDeviceOptions(version: .v5, topicAliases: false)),
        WireVariant(name: "5+aliases", device: ChatDeviceOptions(version: .v5, topicAliases: true)),
        WireVariant(name: "3.1.1+compact", device: ChatDeviceOptions(version: .v311, topicAliases: false), compact: true),
        WireVariant(name: "5+compact", device: ChatDeviceOptions(version: .v5, topicAliases: false), compact: true),
        WireVariant(name: "5+aliases+compact", device: ChatDeviceOptions(version: .v5, topicAliases: true), compact: true),
    ]
}

/// Runs the `wire` scenario: for each variant, a sender and a recipient
/// exchange messages one at a time, and every byte on their two sockets is
/// counted, by packet where it can be told apart.
enum WireRunner {
    struct State: Sendable {
        var ready = 0
        var acknowledged = 0
        var statuses = 0
        var statusBytes = 0
        var deliveries = 0
        var deliveryBytes = 0
        var deliveryPayloadBytes = 0
        /// Answers to the recipient's requests (`d/<device>/a`).
        var answers = 0
    }

    final class Observer: FleetObserver {
        let state = WatchedState(State())

        func deviceReady(_ index: Int) { state.update { $0.ready += 1 } }

        func device(_ index: Int, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64) {
            state.update { s in
                if index == 0 && topic.hasSuffix("/s") {
                    s.statuses += 1
                    s.statusBytes += bytes
                } else if index == 1 && topic.hasSuffix("/m") {
                    s.deliveries += 1
                    s.deliveryBytes += bytes
                    s.deliveryPayloadBytes += publish.payload.readableBytes
                } else if index == 1 && topic.hasSuffix("/a") {
                    s.answers += 1
                }
            }
        }

        func device(_ index: Int, acknowledged packetIdentifier: UInt16, at now: UInt64) {
            // The sender's sends (the recipient's one request is not counted).
            if index == 0 { state.update { $0.acknowledged += 1 } }
        }

        func device(_ index: Int, ended error: BenchError?) {
            if let error { state.fail(error) }
        }
    }

    static func run(_ configuration: WireConfiguration, tokens: DeviceTokens) async throws -> WireResult {
        let runID = ChatBenchOptions.makeRunID()
        var rows: [WireResult.Row] = []
        for (v, variant) in configuration.variants.enumerated() {
            let users = ["w\(runID)\(v)a", "w\(runID)\(v)b"]
            let identities = try await tokens.identities(users.map { ($0, "\($0)-d") })
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let observer = Observer()
            let fleet = DeviceFleet(group: group, options: variant.device, observer: observer)
            do {
                rows.append(try await measure(variant, identities: identities, fleet: fleet, observer: observer, configuration: configuration))
                await fleet.close()
                try? await group.shutdownGracefully()
            } catch {
                await fleet.close()
                try? await group.shutdownGracefully()
                throw error
            }
        }
        return WireResult(label: configuration.label, runID: runID, host: configuration.host, port: configuration.port,
                          messages: configuration.messages, ciphertextBytes: configuration.payloadSize, rows: rows)
    }

    private static func measure(
        _ variant: WireVariant, identities: [ChatDeviceIdentity], fleet: DeviceFleet, observer: Observer, configuration: WireConfiguration
    ) async throws -> WireResult.Row {
        let state = observer.state
        try await fleet.connect(identities, host: configuration.host, port: configuration.port, sources: [],
                                concurrency: 2, timeout: configuration.setupTimeout) { _ in }
        try await state.wait(for: "both devices connected", timeout: configuration.setupTimeout) { $0.ready == 2 }
        let conversation = identities.map(\.user).sorted().joined(separator: "~")
        if variant.compact {
            // Asked with a request id, which MQTT 3.1.1 and 5 both answer on d/<device>/a; not counted.
            var request = Relay_V1_Request()
            request.requestID = "compact"
            request.compactDeliveries.on = true
            let payload: [UInt8] = try request.serializedBytes()
            _ = try await fleet.withDevice(1) { recipient in
                let sent = recipient.publish(topic: "q/deliveries.compact", payload: ByteBuffer(bytes: payload))
                recipient.flush()
                return sent.bytes
            }
            try await state.wait(for: "the answer to deliveries.compact", timeout: configuration.setupTimeout) { $0.answers == 1 }
        }
        func counters(_ i: Int) async throws -> (in: Int, out: Int) {
            try await fleet.withDevice(i) { ($0.bytesIn, $0.bytesOut) }
        }
        let (senderBefore, recipientBefore) = (try await counters(0), try await counters(1))
        var sendBytes = 0, sendPayloadBytes = 0
        for m in 1...configuration.messages {
            var send = Relay_V1_Send()
            send.clientMessageID = String(format: "%016llx", UInt64(m))  // 16 characters, as a client's random id
            send.ciphertext = Data(repeating: 0x2E, count: configuration.payloadSize)
            let payload: [UInt8] = try send.serializedBytes()
            sendPayloadBytes += payload.count
            sendBytes += try await fleet.withDevice(0) { sender in
                let (_, bytes) = sender.publish(topic: "s/\(conversation)", payload: ByteBuffer(bytes: payload))
                sender.flush()
                return bytes
            }
            // Sequenced and delivered statuses to the sender, the delivery to the recipient.
            try await state.wait(for: "message \(m) delivered and its statuses back", timeout: configuration.messageTimeout) {
                $0.acknowledged == m && $0.deliveries == m && $0.statuses == 2 * m
            }
        }
        // The recipient's last PUBACK is written in the same read burst as the delivery's handling.
        let (senderAfter, recipientAfter) = (try await counters(0), try await counters(1))
        let s = state.read { $0 }
        let n = Double(configuration.messages)
        return WireResult.Row(
            variant: variant.name,
            conversationLength: conversation.utf8.count,
            deviceLength: identities[1].device.utf8.count,
            sendPacketBytes: Double(sendBytes) / n,
            sendPayloadBytes: Double(sendPayloadBytes) / n,
            deliveryPacketBytes: Double(s.deliveryBytes) / n,
            deliveryPayloadBytes: Double(s.deliveryPayloadBytes) / n,
            statusPacketBytes: Double(s.statusBytes) / n,
            senderUpBytes: Double(senderAfter.out - senderBefore.out) / n,
            senderDownBytes: Double(senderAfter.in - senderBefore.in) / n,
            recipientUpBytes: Double(recipientAfter.out - recipientBefore.out) / n,
            recipientDownBytes: Double(recipientAfter.in - recipientBefore.in) / n,
            ciphertextBytes: configuration.payloadSize
        )
    }
}
