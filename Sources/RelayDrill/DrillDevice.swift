import Foundation
import RelayClient
import RelayCore
import SwiftProtobuf

/// One device of a drill: a libmosquitto client (MQTT 5) that stays
/// connected the way the device contract says, sends its messages one after
/// the other, retrying each under its client message id until a PUBACK 0x00,
/// and records every `Delivery` it receives, as received (no dedup, no
/// reordering: the checker must see what the device saw).
///
/// Reconnecting: after a 0x9C / 0x9D (CONNACK or DISCONNECT) with a Server
/// Reference it goes there at once; otherwise it tries its home, then its
/// standby, with a short backoff between rounds.
final class DrillDevice: Sendable {
    /// Who the device is and whom it talks to.
    struct Identity: Sendable, Hashable {
        /// Index among the drill's devices.
        var index: Int
        var user: String
        var device: String
        /// Home region.
        var home: String
        /// The 1:1 conversation it sends in.
        var conversation: String
        /// The other member's device index.
        var partner: Int
    }

    /// The link as the event pump sees it.
    struct Link: Sendable {
        /// Accepted CONNACKs so far.
        var accepted = 0
        /// Ends of accepted connections so far (at most `accepted`).
        var lost = 0
        /// The accepted connection whose `d/<device>/#` subscription was granted.
        var subscribed = 0
        /// Where the current (or last) connection went.
        var endpoint: Endpoint?
        /// When the current (or last) connection was ready, ms.
        var readyMs: Double?
        /// How the last connection ended.
        var lastLoss: Disconnection?

        /// Connected and subscribed: sends may go.
        var isReady: Bool { accepted > lost && subscribed == accepted }
    }

    let identity: Identity
    let home: Endpoint
    let standby: Endpoint?
    /// The link's state, awaitable.
    let link = AwaitableState(Link())

    private let client: MosquittoClient
    private let ledger: DrillLedger
    private let clock: DrillClock
    private let outgoing: AsyncStream<Int>
    private let outgoingSink: AsyncStream<Int>.Continuation
    private let tasks = AwaitableState<[Task<Void, Never>]>([])

    /// How long one publish waits for its PUBACK before it is sent again.
    static let sendTimeout = Duration.seconds(3)
    /// How long one endpoint may take to answer CONNECT and SUBSCRIBE.
    static let connectTimeout = Duration.seconds(3)

    /// A device that will connect with `token`; nothing happens until ``start()``.
    init(identity: Identity, token: String, home: Endpoint, standby: Endpoint?, ledger: DrillLedger, clock: DrillClock) throws {
        self.identity = identity
        self.home = home
        self.standby = standby
        self.ledger = ledger
        self.clock = clock
        client = try MosquittoClient(configuration: .init(
            clientID: identity.device, cleanStart: true, protocolVersion: .v5,
            username: identity.user, password: token, receiveMaximum: 32))
        (outgoing, outgoingSink) = AsyncStream.makeStream()
    }

    /// Starts the event pump, the connection keeper and the sender.
    func start() {
        let pump = Task { [client] in
            for await event in client.events { self.handle(event) }
        }
        let keeper = Task { await self.keepConnected() }
        let sender = Task { await self.sendQueued() }
        tasks.update { $0 += [pump, keeper, sender] }
    }

    /// Queues send `index` of the ledger; it goes after those queued before.
    func enqueue(_ index: Int) {
        outgoingSink.yield(index)
    }

    /// Stops everything and closes the client.
    func stop() {
        outgoingSink.finish()
        for task in tasks.value { task.cancel() }
        client.close()
    }

    // MARK: - Connection

    private func keepConnected() async {
        var redirect: Endpoint?
        var rounds = 0
        while !Task.isCancelled {
            let candidates = redirect.map { [$0] } ?? [home] + (standby.map { [$0] } ?? [])
            redirect = nil
            var connected = false
            for endpoint in candidates where !Task.isCancelled {
                switch await connectOnce(to: endpoint) {
                case .redirected(let target):
                    redirect = target
                case .ended(let target):
                    connected = true
                    redirect = target
                    if target == nil { try? await Task.sleep(for: .milliseconds(50)) }
                case .failed:
                    continue
                }
                break
            }
            if redirect != nil || connected {
                rounds = 0
                continue
            }
            rounds += 1
            // A short backoff between rounds, with jitter so devices spread out.
            let ceiling = min(100 * (1 << min(rounds, 3)), 800)
            try? await Task.sleep(for: .milliseconds(Int.random(in: ceiling / 2...ceiling)))
        }
    }

    private enum Attempt {
        /// Refused with a Server Reference.
        case redirected(Endpoint)
        /// Connected, then the link ended (with a Server Reference to follow, or none).
        case ended(Endpoint?)
        /// Not connected.
        case failed
    }

    /// One connection to `endpoint`, held until it ends.
    private func connectOnce(to endpoint: Endpoint) async -> Attempt {
        await ensureDown()
        let before = link.value.accepted
        var properties = MosquittoProperties()
        properties.sessionExpiryInterval = 0
        do {
            _ = try await client.connect(host: endpoint.host, port: endpoint.port, keepAlive: 10,
                                         properties: properties, timeout: Self.connectTimeout)
        } catch MosquittoClientError.refused(let ack) {
            if Self.isMoved(ack.reasonCode), let target = ack.properties.serverReference.flatMap(Self.endpoint(in:)) {
                return .redirected(target)
            }
            return .failed
        } catch {
            return .failed
        }
        // The pump counts the accepted CONNACK; wait for it so that `subscribed` names this connection.
        guard let state = try? await link.wait(until: { $0.accepted > before }, timeout: Self.connectTimeout) else {
            await ensureDown()
            return .failed
        }
        let session = state.accepted
        do {
            let suback = try await client.subscribe("d/\(identity.device)/#", qos: 1, timeout: Self.connectTimeout)
            guard let code = suback.reasonCodes.first, code < 0x80 else {
                await ensureDown()
                return .failed
            }
        } catch {
            await ensureDown()
            return .failed
        }
        let readyMs = clock.nowMs
        link.update { link in
            if link.accepted == session && link.lost < session {
                link.subscribed = session
                link.endpoint = endpoint
                link.readyMs = readyMs
            }
        }
        // Held until the pump sees this connection end.
        while !Task.isCancelled {
            if let ended = try? await link.wait(until: { $0.lost >= session }, timeout: .seconds(3600)) {
                let loss = ended.lastLoss
                if let loss, let code = loss.reasonCode, Self.isMoved(code),
                   let target = loss.properties.serverReference.flatMap(Self.endpoint(in:)) {
                    return .ended(target)
                }
                return .ended(nil)
            }
        }
        return .ended(nil)
    }

    /// Closes the link if it is up and waits (bounded) until the pump saw it end.
    private func ensureDown() async {
        guard client.isLinkUp || link.value.accepted > link.value.lost else { return }
        try? client.disconnect()
        _ = try? await link.wait(until: { $0.lost >= $0.accepted }, timeout: .seconds(2))
    }

    private static func isMoved(_ code: UInt8) -> Bool { code == 0x9C || code == 0x9D }

    /// The first server of a Server Reference.
    private static func endpoint(in reference: String) -> Endpoint? {
        reference.split(separator: " ").first.flatMap { try? Endpoint(parsing: String($0)) }
    }

    // MARK: - Events

    private func handle(_ event: MosquittoEvent) {
        switch event {
        case .connectAcknowledged(let ack) where ack.isAccepted:
            link.update { $0.accepted += 1 }
        case .disconnected(let disconnection):
            // A refused CONNACK also ends in `.disconnected`; only accepted connections count.
            link.update { link in
                guard link.lost < link.accepted else { return }
                link.lost += 1
                link.lastLoss = disconnection
            }
        case .message(let message) where message.topic == "d/\(identity.device)/m":
            guard let delivery = try? Relay_V1_Delivery(serializedBytes: message.payload) else { return }
            ledger.received(DrillLedger.Delivery(
                device: identity.index, conversation: delivery.conversation, epoch: delivery.epoch, seq: delivery.seq,
                clientMessageID: delivery.clientMessageID, arrivalMs: clock.nowMs))
        default:
            break
        }
    }

    // MARK: - Sending

    private func sendQueued() async {
        for await index in outgoing {
            await sendUntilAcknowledged(index)
            if Task.isCancelled { return }
        }
    }

    /// Publishes send `index` until a PUBACK 0x00 comes (the contract: same client message id every time).
    private func sendUntilAcknowledged(_ index: Int) async {
        let send = ledger.snapshot.sends[index]
        var envelope = Relay_V1_Send()
        envelope.clientMessageID = send.id
        envelope.ciphertext = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        guard let payload: [UInt8] = try? envelope.serializedBytes() else { return }
        let topic = "s/" + send.conversation
        var refusals = 0
        while !Task.isCancelled {
            guard let ready = try? await link.wait(until: { $0.isReady }, timeout: .seconds(3600)) else { continue }
            ledger.published(index, at: clock.nowMs)
            let code = await publishOnce(topic: topic, payload: payload, session: ready.accepted)
            guard let code else {
                // No answer on this link: resend, after a pause so a link going down is not spun on.
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            ledger.acknowledged(index, reasonCode: code, at: clock.nowMs)
            if code == 0 { return }
            // Refused (rate limit, region fenced or its standby away in sync mode): back off, resend.
            refusals += 1
            try? await Task.sleep(for: .milliseconds(min(50 * refusals, 500)))
        }
    }

    /// One publish; its PUBACK reason code, or nil when none came in time or the link ended first.
    private func publishOnce(topic: String, payload: [UInt8], session: Int) async -> UInt8? {
        let client = self.client
        let link = self.link
        return await withTaskGroup(of: UInt8?.self) { group in
            group.addTask {
                try? await client.publish(topic: topic, payload: payload, qos: 1, timeout: Self.sendTimeout).reasonCode
            }
            group.addTask {
                _ = try? await link.wait(until: { $0.lost >= session }, timeout: Self.sendTimeout)
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }
}
