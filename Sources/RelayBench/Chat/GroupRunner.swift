import Foundation
import MQTT
import NIOCore
import NIOPosix
import RelayCore
import SwiftProtobuf

/// Everything one `relay-bench group` run needs.
struct GroupConfiguration: Sendable {
    var host: String
    var port: Int
    /// Members including the sender, one device each.
    var members: Int
    /// Messages measured, one at a time; each waits until every member has it.
    var messages: Int
    var warmupMessages: Int
    var payloadSize: Int
    var device: ChatDeviceOptions
    var threads: Int
    var concurrency: Int
    var setupTimeout: TimeAmount
    var messageTimeout: TimeAmount
    var sources: [SocketAddress]
    var label: String?
}

/// Runs the `group` scenario: one sender, a group of M members all online;
/// each message is timed from the sender's PUBLISH until the last member
/// device has read its `Delivery`.
enum GroupRunner {
    struct State: Sendable {
        var ready = 0
        var conversation: String?
        var createError: String?
        /// The message being timed: its group seq, send time, deliveries so far.
        var round: UInt64 = 0
        var sentAt: UInt64 = 0
        var got = 0
        var lastAt: UInt64 = 0
        var ackAt: UInt64 = 0
        var perMember = LatencyHistogram()
        var unexpected = 0
    }

    final class Observer: FleetObserver {
        let state = WatchedState(State())

        func deviceReady(_ index: Int) {
            state.update { $0.ready += 1 }
        }

        func device(_ index: Int, received publish: PublishPacket, topic: String, bytes: Int, at now: UInt64) {
            let payload = Array(publish.payload.readableBytesView)
            if index == 0 {
                guard topic.hasSuffix("/a"), let response = try? Relay_V1_Response(serializedBytes: payload) else { return }
                state.update { s in
                    if response.hasError { s.createError = "\(response.error.code): \(response.error.message)" }
                    if case .group(let info)? = response.body { s.conversation = info.conversation }
                }
                return
            }
            guard topic.hasSuffix("/m"), let delivery = try? Relay_V1_Delivery(serializedBytes: payload) else { return }
            state.update { s in
                guard delivery.conversation == s.conversation, delivery.seq == s.round else {
                    s.unexpected += 1
                    return
                }
                s.got += 1
                s.lastAt = max(s.lastAt, now)
                if now >= s.sentAt { s.perMember.record(now - s.sentAt) }
            }
        }

        func device(_ index: Int, acknowledged packetIdentifier: UInt16, at now: UInt64) {
            state.update { s in if s.ackAt == 0 { s.ackAt = now } }
        }

        func device(_ index: Int, ended error: BenchError?) {
            if let error { state.fail(error) }
        }
    }

    static func run(_ configuration: GroupConfiguration, tokens: DeviceTokens) async throws -> GroupResult {
        let runID = ChatBenchOptions.makeRunID()
        let devices = (0..<configuration.members).map { ("g\(runID)u\($0)", "g\(runID)u\($0)-d") }
        let identities = try await tokens.identities(devices)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let observer = Observer()
        let fleet = DeviceFleet(group: group, options: configuration.device, observer: observer)
        do {
            let result = try await run(configuration, fleet: fleet, observer: observer, identities: identities, runID: runID)
            await fleet.close()
            try? await group.shutdownGracefully()
            return result
        } catch {
            await fleet.close()
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(
        _ configuration: GroupConfiguration, fleet: DeviceFleet, observer: Observer, identities: [ChatDeviceIdentity], runID: String
    ) async throws -> GroupResult {
        let state = observer.state
        let connectStart = NIODeadline.now()
        try await fleet.connect(
            identities, host: configuration.host, port: configuration.port, sources: configuration.sources,
            concurrency: configuration.concurrency, timeout: configuration.setupTimeout
        ) { _ in }
        try await state.wait(for: "every member connected and subscribed", timeout: configuration.setupTimeout - (.now() - connectStart)) {
            $0.ready == identities.count
        }

        // The sender creates the group with everyone else in it.
        var request = Relay_V1_Request()
        request.requestID = "create-\(runID)"
        var create = Relay_V1_GroupCreate()
        create.members = identities.dropFirst().map(\.user)
        request.groupCreate = create
        let requestBytes: [UInt8] = try request.serializedBytes()
        try await fleet.withDevice(0) { sender in
            sender.publish(topic: "q/group.create", payload: ByteBuffer(bytes: requestBytes))
            sender.flush()
        }
        try await state.wait(for: "the group.create response", timeout: configuration.messageTimeout) {
            $0.conversation != nil || $0.createError != nil
        }
        if let error = state.read({ $0.createError }) {
            throw BenchError(.protocolViolation, "group.create refused: \(error)")
        }
        let conversation = state.read { $0.conversation } ?? ""

        var fullDelivery = LatencyHistogram(), ack = LatencyHistogram(), perMember = LatencyHistogram()
        let others = identities.count - 1
        let cpuBefore = processCPUSeconds()
        var cpuMeasured = 0.0
        for round in 1...(configuration.warmupMessages + configuration.messages) {
            let measured = round > configuration.warmupMessages
            if round == configuration.warmupMessages + 1 { cpuMeasured = processCPUSeconds() }
            var send = Relay_V1_Send()
            send.clientMessageID = "\(round)"
            send.ciphertext = Data(repeating: 0x2E, count: configuration.payloadSize)
            let bytes: [UInt8] = try send.serializedBytes()
            let sentAt = NIODeadline.now().uptimeNanoseconds
            state.update { s in
                s.round = UInt64(round)
                s.sentAt = sentAt
                s.got = 0
                s.lastAt = 0
                s.ackAt = 0
                s.perMember = LatencyHistogram()
            }
            try await fleet.withDevice(0) { sender in
                sender.publish(topic: "s/\(conversation)", payload: ByteBuffer(bytes: bytes))
                sender.flush()
            }
            try await state.wait(for: "message \(round) at all \(others) members", timeout: configuration.messageTimeout) {
                $0.got == others && $0.ackAt != 0
            }
            guard measured else { continue }
            let (last, ackAt, members) = state.read { ($0.lastAt, $0.ackAt, $0.perMember) }
            fullDelivery.record(last - sentAt)
            ack.record(ackAt - sentAt)
            perMember.merge(members)
        }
        let cpu = processCPUSeconds() - (configuration.warmupMessages > 0 ? cpuMeasured : cpuBefore)
        return GroupResult(
            label: configuration.label, runID: runID, host: configuration.host, port: configuration.port,
            protocolVersion: configuration.device.version == .v5 ? "5" : "3.1.1",
            members: configuration.members, messages: configuration.messages, payloadBytes: configuration.payloadSize,
            threads: configuration.threads,
            allDeliveredMicros: LatencySummary(fullDelivery), memberDeliveryMicros: LatencySummary(perMember),
            ackMicros: LatencySummary(ack), unexpected: state.read { $0.unexpected },
            clientCPUSeconds: cpu
        )
    }
}
