// Fuzzes the replication receiver: `ReplicationRouter` (a peer's batch on
// `repl/<origin>`: decode, cursor, apply in order) and behind it
// `ChatRouter.apply(_:from:replicator:on:)` with arbitrary
// `Relay_V1_Frame`s, against a real Redis. The node is region us-east of
// three (us-east, eu-west, ap-south); users and conversations live in each.
//
// Input layout (FuzzInput): origin, mode, then by mode
//   0: one frame (bytes), shipped in a batch with the next id;
//   1: one frame, applied directly by the chat router (if it decodes);
//   2: a whole ReplicationBatch payload (bytes);
//   3: chunks, each a frame, shipped in one batch with consecutive ids;
//   4: 8 raw bytes, then a frame whose 64-bit field (seq, reply_to_seq,
//      read_up_to_seq) they set, shipped as in 0.
import Foundation
import FuzzDriver
import MQTT
import NIOConcurrencyHelpers
import NIOCore
@testable import RelayChat
import RelayCore
@testable import RelayReplication

#if DEBUG || RELAY_FUZZ
import FuzzHarness
import SwiftProtobuf
@testable import MQTTServer

let local = "us-east"
let origins = ["eu-west", "ap-south"]
let standbys: [String: String?] = ["us-east": "eu-west", "eu-west": "us-east", "ap-south": "eu-west"]
let userHomes = ["alice": "us-east", "bob": "eu-west", "carol": "ap-south"]
let devices = [("alice", "alice-phone"), ("bob", "bob-phone"), ("carol", "carol-phone")]
let conversationHomes = ["alice~bob": "us-east", "bob~carol": "eu-west", "alice~carol": "ap-south", "gfuzz1": "eu-west"]
/// Inputs between two resets (database emptied, the node built again).
let inputsPerReset = 2000

/// The outboxes to other regions: frames are serialized (as the real one
/// does) and numbered, and count as acknowledged at once.
final class CountingSink: FrameSink {
    private let next = NIOLockedValueBox<UInt64>(0)

    func append(_ frames: [Relay_V1_Frame], to peer: String, on loop: any EventLoop) -> EventLoopFuture<[UInt64]> {
        for frame in frames {
            guard (try? frame.serializedBytes() as [UInt8]) != nil else {
                return loop.makeFailedFuture(ChatError(.badRequest, "a frame does not serialize"))
            }
        }
        let ids = next.withLockedValue { next in
            (0..<frames.count).map { _ in next += 1; return next }
        }
        return loop.makeSucceededFuture(ids)
    }

    func waitUntilAcknowledged(peer: String, id: UInt64, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        loop.makeSucceededVoidFuture()
    }

    func lastAppended(peer: String, on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        loop.makeSucceededFuture(next.withLockedValue { $0 })
    }

    func pending(peer: String, after: UInt64, limit: Int, on loop: any EventLoop) -> EventLoopFuture<[OutboxEntry]> {
        loop.makeSucceededFuture([])  // counts, keeps nothing
    }
}

/// One us-east node: its chat router with a replicator, and the peer
/// listener's router with a session per peer region.
struct Node {
    let router: ChatRouter
    let replicator: Replicator
    let receiver: ReplicationRouter
    let peers: [String: MQTTSession]

    init(harness: FuzzHarness) throws {
        let loop = harness.loop
        var configuration = ChatConfiguration()
        configuration.region = local
        let store = try ChatStore(redis: harness.redis, configuration: configuration)
        let authority = RegionAuthority(map: RegionMap(local: local, standbys: standbys), redis: harness.redis, logger: harness.logger)
        _ = harness.wait(authority.reload(on: loop), "loading the region map")
        replicator = Replicator(
            local: local, authority: authority, directory: Directory(redis: harness.redis), sink: CountingSink(), mode: .async,
            deviceEndpoints: ["us-east": "127.0.0.1:1", "eu-west": "127.0.0.1:2", "ap-south": "127.0.0.1:3"],
            store: store, logger: harness.logger)
        router = try ChatRouter(store: store, group: loop, logger: harness.logger, replicator: replicator)
        let delegate = ChatReplication(authority: authority, loop: loop)
        delegate.attach(router: router, replicator: replicator)
        receiver = try ReplicationRouter(region: local, delegate: delegate, redis: harness.redis, group: loop, logger: harness.logger)
        var peers: [String: MQTTSession] = [:]
        for origin in origins {
            peers[origin] = harness.session(clientIdentifier: "peer-\(origin)", principal: MQTTPrincipal(username: origin, attributes: [
                PeerAuthenticator.regionAttribute: origin,
            ]))
        }
        self.peers = peers
        _ = harness.wait(replicator.directory.record(users: userHomes, conversations: conversationHomes, on: loop), "the directory")
        for (user, device) in devices {
            _ = harness.wait(store.register(device: device, user: user, on: loop), "registering \(device)")
        }
        _ = harness.wait(store.createGroup("gfuzz1", creator: "bob", members: ["alice", "bob", "carol"], nowMilliseconds: ChatRouter.nowMilliseconds(), on: loop), "a group")
    }
}

final class ReplicationFuzzer {
    let harness: FuzzHarness
    var node: Node
    var inputs = 0

    init() throws {
        harness = try FuzzHarness()
        harness.flush()
        node = try Node(harness: harness)
        harness.settle()
    }

    func reset() {
        harness.settle()
        harness.flush()
        do {
            node = try Node(harness: harness)
        } catch {
            fatalError("cannot build the node again: \(error)")
        }
        harness.settle()
    }

    /// Publishes `frames` (serialized) from `origin` as one batch numbered after its cursor.
    func ship(_ frames: [[UInt8]], from origin: String) {
        let cursor: UInt64
        switch harness.wait(node.receiver.cursor(origin: origin, on: harness.loop), "the cursor") {
        case .success(let value): cursor = value
        case .failure: return
        }
        var batch = Relay_V1_ReplicationBatch()
        batch.origin = origin
        batch.frames = frames.enumerated().map { index, frame in
            var shipped = Relay_V1_ShippedFrame()
            shipped.id = cursor + 1 + UInt64(index)
            shipped.appendedMs = ChatRouter.nowMilliseconds()
            shipped.frame = Data(frame)
            return shipped
        }
        publish((try? batch.serializedBytes()) ?? [], from: origin)
    }

    func publish(_ payload: [UInt8], from origin: String) {
        let message = MQTTMessage(topic: ReplicationBatchCodec.topic(origin: origin), payload: ByteBuffer(bytes: payload), qos: .atLeastOnce, retain: false)
        let receiver = node.receiver
        let session = node.peers[origin]!
        let loop = harness.loop
        let done = loop.flatSubmit { receiver.acknowledgedPublish(message, from: session).future(on: loop) }
        _ = harness.wait(done, "a batch from \(origin)")
        harness.settle()
    }

    func run(_ raw: UnsafeRawBufferPointer) {
        inputs += 1
        if inputs % inputsPerReset == 0 { reset() }
        var input = FuzzInput(raw)
        let origin = input.pick(origins)
        switch input.byte() % 5 {
        case 0:
            ship([input.rest()], from: origin)
        case 4:
            let number = input.uint64()
            ship([overriding(input.rest(), with: number)], from: origin)
        case 1:
            guard let frame = try? Relay_V1_Frame(serializedBytes: input.rest()) else { return }
            let node = self.node
            let loop = harness.loop
            let applied = loop.flatSubmit { node.router.apply(frame, from: origin, replicator: node.replicator, on: loop) }
            _ = harness.wait(applied, "applying a frame from \(origin)")
            harness.settle()
        case 2:
            publish(input.rest(), from: origin)
        default:
            var frames: [[UInt8]] = []
            while true {
                let chunk = input.chunk()
                if chunk.isEmpty { break }
                frames.append(chunk)
            }
            ship(frames, from: origin)
        }
    }
}

/// `bytes` (a frame) with its 64-bit sequence field set to `number`: raw
/// bytes let libFuzzer's comparison tracing reach the bounds checked.
func overriding(_ bytes: [UInt8], with number: UInt64) -> [UInt8] {
    guard var frame = try? Relay_V1_Frame(serializedBytes: bytes) else { return bytes }
    switch frame.body {
    case .message(var message):
        if number & 1 == 0 { message.seq = number } else { message.replyToSeq = number }
        frame.message = message
    case .forwardedSend(var forwarded):
        forwarded.send.replyToSeq = number
        frame.forwardedSend = forwarded
    case .receipt(var receipt):
        receipt.receipt.readUpToSeq = number
        frame.receipt = receipt
    case .cursor(var cursor):
        cursor.seq = number
        frame.cursor = cursor
    case .conversation(var state):
        state.seq = number
        frame.conversation = state
    default:
        break
    }
    return (try? frame.serializedBytes()) ?? bytes
}

/// Seeds: a frame of every kind, shipped in a batch from eu-west (mode 0).
func seeds() throws -> [(name: String, bytes: [UInt8])] {
    var frames: [(String, Relay_V1_Frame)] = []
    func frame(_ name: String, _ build: (inout Relay_V1_Frame) -> Void) {
        var frame = Relay_V1_Frame()
        frame.term = 1
        build(&frame)
        frames.append((name, frame))
    }
    var message = Relay_V1_ReplicatedMessage()
    message.conversation = "bob~carol"
    message.epoch = 1
    message.seq = 1
    message.user = "bob"
    message.device = "bob-phone"
    message.timeMs = 1_700_000_000_000
    message.ciphertext = Data("hi".utf8)
    message.clientMessageID = "m1"
    message.users = ["bob", "carol", "alice"]
    frame("message") { $0.message = message }
    var group = message
    group.conversation = "gfuzz1"
    group.deviceCiphertexts = ["alice-phone": Data("a".utf8)]
    group.ciphertext = Data()
    group.replyToSeq = 1
    group.ttlSeconds = 60
    frame("message-group") { $0.message = group }
    var send = Relay_V1_Send()
    send.clientMessageID = "f1"
    send.ciphertext = Data("x".utf8)
    frame("forwarded-send") {
        $0.forwardedSend.conversation = "alice~bob"
        $0.forwardedSend.user = "bob"
        $0.forwardedSend.device = "bob-phone"
        $0.forwardedSend.send = send
        $0.forwardedSend.receivedMs = 1_700_000_000_000
    }
    frame("entries") {
        $0.entries.users = ["alice"]
        $0.entries.devices = ["alice-phone": "alice"]
        $0.entries.entries = [Data([0x73, 1, 2])]
        $0.entries.exceptDevices = ["bob-phone"]
    }
    frame("receipt") {
        $0.receipt.conversation = "alice~bob"
        $0.receipt.user = "bob"
        $0.receipt.device = "bob-phone"
        $0.receipt.receipt.epoch = 1
        $0.receipt.receipt.readUpToSeq = 1
    }
    frame("directory") {
        $0.directory.userHomes = ["dave": "eu-west"]
        $0.directory.conversationHomes = ["bob~dave": "eu-west"]
    }
    frame("cursor") {
        $0.cursor.device = "alice-phone"
        $0.cursor.conversation = "alice~bob"
        $0.cursor.seq = 1
    }
    frame("queue-ack") {
        $0.queueAck.device = "alice-phone"
        $0.queueAck.entry = Data([0x73, 1, 2])
    }
    frame("device") {
        $0.device.user = "bob"
        $0.device.device = "bob-tablet"
    }
    frame("conversation") {
        $0.conversation.conversation = "gfuzz2"
        $0.conversation.kind = "group"
        $0.conversation.epoch = 1
        $0.conversation.seq = 3
        $0.conversation.members = ["bob": "admin", "alice": "member"]
        $0.conversation.home = "eu-west"
    }
    frame("region") {
        $0.region.region = "ap-south"
        $0.region.term = 2
        $0.region.servedBy = "eu-west"
        $0.region.fenced = false
    }
    frame("typing") {
        $0.typing.event.conversation = "alice~bob"
        $0.typing.event.user = "bob"
        $0.typing.event.device = "bob-phone"
        $0.typing.event.typing = true
        $0.typing.users = ["alice"]
    }
    frame("presence") {
        $0.presence.user = "bob"
        $0.presence.online = true
        $0.presence.lastSeenMs = 1_700_000_000_000
    }
    frame("push-registration") {
        $0.pushRegistration.device = "alice-phone"
        $0.pushRegistration.user = "alice"
        $0.pushRegistration.home = "us-east"
        $0.pushRegistration.target.webPush.endpoint = "https://push.example.net/wpush/abc"
        $0.pushRegistration.target.webPush.p256Dh = Data([4] + [UInt8](repeating: 1, count: 64))
        $0.pushRegistration.target.webPush.auth = Data([UInt8](repeating: 2, count: 16))
    }
    // Regressions: frames that crashed the relay applying them (issue 10 #1, #3).
    var selfMessage = message
    selfMessage.conversation = "bob~bob"
    selfMessage.users = ["bob"]
    frame("regression-message-self") { $0.message = selfMessage }
    var hugeMessage = message
    hugeMessage.seq = 1 << 63
    frame("regression-message-seq-2p63") { $0.message = hugeMessage }
    var hugeReply = message
    hugeReply.replyToSeq = 1 << 63
    frame("regression-message-reply-2p63") { $0.message = hugeReply }
    var hugeSend = send
    hugeSend.replyToSeq = 1 << 63
    frame("regression-forwarded-send-reply-2p63") {
        $0.forwardedSend.conversation = "alice~bob"
        $0.forwardedSend.user = "bob"
        $0.forwardedSend.device = "bob-phone"
        $0.forwardedSend.send = hugeSend
        $0.forwardedSend.receivedMs = 1_700_000_000_000
    }
    frame("regression-receipt-2p63") {
        $0.receipt.conversation = "alice~bob"
        $0.receipt.user = "bob"
        $0.receipt.device = "bob-phone"
        $0.receipt.receipt.epoch = 1
        $0.receipt.receipt.readUpToSeq = 1 << 63
    }
    frame("regression-cursor-2p63") {
        $0.cursor.device = "alice-phone"
        $0.cursor.conversation = "alice~bob"
        $0.cursor.seq = 1 << 63
    }
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (name, frame) in frames {
        var seed = FuzzSeed()
        seed.byte(0)  // eu-west
        seed.byte(0)  // one frame in a batch
        seed.rest(try frame.serializedBytes() as [UInt8])
        seeds.append((name, seed.bytes))
    }
    // Mode 4: the same frames with their 64-bit field set from 8 raw bytes (here 2).
    for (name, frame) in frames where ["message", "forwarded-send", "receipt", "cursor", "conversation"].contains(name) {
        var seed = FuzzSeed()
        seed.byte(0)
        seed.byte(4)
        seed.rest([2, 0, 0, 0, 0, 0, 0, 0] + (try frame.serializedBytes() as [UInt8]))
        seeds.append(("number-\(name)", seed.bytes))
    }
    // Mode 3: a batch of two frames (message then its receipt).
    var seed = FuzzSeed()
    seed.byte(0)
    seed.byte(3)
    seed.chunk(try frames[0].1.serializedBytes() as [UInt8])
    seed.chunk(try frames[4].1.serializedBytes() as [UInt8])
    seeds.append(("batch-of-two", seed.bytes))
    return seeds
}
#endif
