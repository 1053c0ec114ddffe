// Fuzzes the chat handlers behind every device topic (`s/`, `r/`, `t/`,
// `q/<method>`) through `ChatRouter.publish(_:from:)`, against a real Redis.
//
// Input layout (FuzzInput): topic kind, sender, conversation, method,
// options, [conversation chunk], [topic chunk], payload. The selectors
// reach the sender's own conversation (`u~u`), its 1:1 with another user,
// other users' 1:1, a group it is in, a group it is not in, an unknown
// group, an unsorted id and any string. With the "wrap" option a `q/`
// payload is the body message, wrapped here in a `Request` of the method's
// kind; without it the payload is the whole `Request`.
import Foundation
import FuzzDriver
import MQTT
import NIOCore
@testable import RelayChat
import RelayCore

#if DEBUG || RELAY_FUZZ
import FuzzHarness
import Signal
import SwiftProtobuf
@testable import MQTTServer

let users = ["alice", "bob", "carol"]
let devices = [("alice", "alice-phone"), ("alice", "alice-laptop"), ("bob", "bob-phone"), ("carol", "carol-phone")]
let groups = ["gfuzz1", "gfuzz2"]  // alice and bob in gfuzz1 (alice admin); bob and carol in gfuzz2 (bob admin)
let methods = [
    "group.create", "group.add", "group.remove", "group.leave", "group.admins", "conversation.settings",
    "keys.upload", "keys.fetch", "history.sync", "presence.get", "privacy.set",
    "devices.list", "devices.remove", "devices.link", "push.register", "push.unregister", "no.such.method",
]
/// Inputs between two resets (database emptied, fixtures and sessions made again).
let inputsPerReset = 2000

enum Kind: UInt8, CaseIterable {
    case send, receipt, typing, request, anyTopic
}

/// The conversation the selector byte names, from `user`'s point of view.
func conversation(_ selector: UInt8, user: String, input: inout FuzzInput) -> String {
    let others = users.filter { $0 != user }
    func direct(_ a: String, _ b: String) -> String { a <= b ? "\(a)~\(b)" : "\(b)~\(a)" }
    switch selector % 8 {
    case 0: return "\(user)~\(user)"
    case 1: return direct(user, others[0])
    case 2: return direct(others[0], others[1])
    case 3: return groups[0]
    case 4: return groups[1]
    case 5: return "gnosuchgroup"
    case 6: return "\(others[1])~\(others[0])"
    default: return String(decoding: input.chunk(), as: UTF8.self)
    }
}

/// A `Request` for `method` whose body is `payload` read as that method's message.
func wrapped(_ payload: [UInt8], method: String) -> [UInt8] {
    var request = Relay_V1_Request()
    request.requestID = "fuzz"
    func body<M: SwiftProtobuf.Message>(_ type: M.Type) -> M { (try? M(serializedBytes: payload)) ?? M() }
    switch method {
    case "group.create": request.groupCreate = body(Relay_V1_GroupCreate.self)
    case "group.add": request.groupAdd = body(Relay_V1_GroupMembers.self)
    case "group.remove": request.groupRemove = body(Relay_V1_GroupMembers.self)
    case "group.leave": request.groupLeave = body(Relay_V1_GroupLeave.self)
    case "group.admins": request.groupAdmins = body(Relay_V1_GroupMembers.self)
    case "conversation.settings": request.conversationSettings = body(Relay_V1_ConversationSettings.self)
    case "keys.upload": request.keysUpload = body(Relay_V1_KeysUpload.self)
    case "keys.fetch": request.keysFetch = body(Relay_V1_KeysFetch.self)
    case "history.sync": request.historySync = body(Relay_V1_HistorySync.self)
    case "presence.get": request.presenceQuery = body(Relay_V1_PresenceQuery.self)
    case "privacy.set": request.privacy = body(Relay_V1_PrivacySettings.self)
    case "devices.list": request.devicesList = body(Relay_V1_DevicesList.self)
    case "devices.remove": request.devicesRemove = body(Relay_V1_DevicesRemove.self)
    case "devices.link": request.devicesLink = body(Relay_V1_DevicesLink.self)
    case "push.register": request.pushRegister = body(Relay_V1_PushRegister.self)
    case "push.unregister": request.pushUnregister = body(Relay_V1_PushUnregister.self)
    default: return payload
    }
    return (try? request.serializedBytes()) ?? payload
}

/// `payload` with its 64-bit field set to `number`.
func overriding(_ payload: [UInt8], kind: Kind, with number: UInt64) -> [UInt8] {
    switch kind {
    case .send:
        var send = (try? Relay_V1_Send(serializedBytes: payload)) ?? Relay_V1_Send()
        send.replyToSeq = number
        return (try? send.serializedBytes()) ?? payload
    case .receipt:
        var receipt = (try? Relay_V1_Receipt(serializedBytes: payload)) ?? Relay_V1_Receipt()
        receipt.readUpToSeq = number
        return (try? receipt.serializedBytes()) ?? payload
    default:
        return payload
    }
}

/// A valid `keys.upload` body for a fresh identity key, in Signal's formats
/// (libsignal-protocol-c makes the keys and the XEdDSA signature).
func keysUpload(prekeys: Int) throws -> Relay_V1_KeysUpload {
    let signal = try SignalProtocol(store: SignalRecordStore(storage: MemoryRecordStorage()))
    let identity = try signal.createIdentity()
    let signed = try signal.generateSignedPreKey(id: 1, timestampMs: 0)
    var upload = Relay_V1_KeysUpload()
    upload.identityKey = identity.publicKey.serialized
    upload.registrationID = identity.registrationID
    upload.deviceID = 1
    upload.signedPrekey.id = signed.id
    upload.signedPrekey.publicKey = signed.publicKey.serialized
    upload.signedPrekey.signature = signed.signature
    let oneTime = try signal.generatePreKeys(start: 1, count: prekeys + 1)
    upload.oneTimePrekeys = oneTime.dropLast().map { key in
        var prekey = Relay_V1_OneTimePrekey()
        prekey.id = key.id
        prekey.publicKey = key.publicKey.serialized
        return prekey
    }
    upload.lastResortPrekey.id = 0xFF_FFFF
    upload.lastResortPrekey.publicKey = oneTime[prekeys].publicKey.serialized
    return upload
}

/// The relay under fuzzing: a `ChatRouter` on a real Redis, with four
/// devices of three users connected (stored sessions) and two groups.
final class ChatFuzzer {
    let harness: FuzzHarness
    let router: ChatRouter
    var sessions: [String: MQTTSession] = [:]
    var inputs = 0

    init() throws {
        harness = try FuzzHarness()
        var configuration = ChatConfiguration()
        // Rate limits out of the way: else nearly every input is refused by them.
        configuration.sendBurst = 1_000_000_000
        configuration.sendsPerSecond = 1_000_000_000
        configuration.requestBurst = 1_000_000_000
        configuration.requestsPerSecond = 1_000_000_000
        configuration.keyFetchBurst = 1_000_000_000
        configuration.keyFetchesPerSecond = 1_000_000_000
        configuration.typingBurst = 1_000_000_000
        configuration.typingPerSecond = 1_000_000_000
        configuration.maximumQueuedPerDevice = 200
        let store = try ChatStore(redis: harness.redis, configuration: configuration)
        router = try ChatRouter(store: store, group: harness.loop, logger: harness.logger)
        reset()
    }

    /// Empties Redis and lays the fixtures again, with fresh sessions.
    func reset() {
        let router = self.router
        for session in sessions.values {
            _ = harness.wait(harness.loop.submit { router.sessionEnded(session) }, "ending a session")
        }
        sessions = [:]
        harness.settle()
        harness.flush()
        let loop = harness.loop
        let store = router.store
        for (user, device) in devices {
            _ = harness.wait(store.register(device: device, user: user, on: loop), "registering \(device)")
        }
        _ = harness.wait(store.createGroup(groups[0], creator: "alice", members: ["alice", "bob"], nowMilliseconds: ChatRouter.nowMilliseconds(), on: loop), "a group")
        _ = harness.wait(store.createGroup(groups[1], creator: "bob", members: ["bob", "carol"], nowMilliseconds: ChatRouter.nowMilliseconds(), on: loop), "a group")
        for (user, device) in devices {
            let session = harness.session(clientIdentifier: device, principal: MQTTPrincipal(username: user, attributes: [
                DeviceAttribute.user: user, DeviceAttribute.device: device, DeviceAttribute.home: "local",
            ]))
            sessions[device] = session
            _ = harness.wait(loop.submit { router.sessionConnected(session, resumed: false) }, "connecting \(device)")
            // Keys, so that keys.fetch hands some out.
            var request = Relay_V1_Request()
            request.keysUpload = try! keysUpload(prekeys: 3)
            publish(topic: "q/keys.upload", payload: try! request.serializedBytes(), qos: .atLeastOnce, properties: MQTTProperties(), session: session)
        }
        harness.settle()
    }

    func publish(topic: String, payload: [UInt8], qos: QoS, properties: MQTTProperties, session: MQTTSession) {
        let message = MQTTMessage(topic: topic, payload: ByteBuffer(bytes: payload), qos: qos, retain: false, properties: properties)
        let router = self.router
        let loop = harness.loop
        let done = loop.flatSubmit { router.publish(message, from: session).future(on: loop) }
        _ = harness.wait(done, "publish on \(topic)")
        harness.settle()
    }

    func run(_ raw: UnsafeRawBufferPointer) {
        inputs += 1
        if inputs % inputsPerReset == 0 { reset() }
        var input = FuzzInput(raw)
        let kind = Kind(rawValue: input.byte() % UInt8(Kind.allCases.count))!
        let (user, device) = input.pick(devices)
        let conversationSelector = input.byte()
        let method = input.pick(methods)
        let options = input.byte()
        let id = conversation(conversationSelector, user: user, input: &input)
        var properties = MQTTProperties()
        if options & 2 != 0 {
            properties.responseTopic = "d/\(device)/a"
            properties.correlationData = ByteBuffer(bytes: [options])
        }
        let topic: String
        switch kind {
        case .send: topic = "s/\(id)"
        case .receipt: topic = "r/\(id)"
        case .typing: topic = "t/\(id)"
        case .request: topic = "q/\(method)"
        case .anyTopic: topic = String(decoding: input.chunk(), as: UTF8.self)
        }
        // "Number" option: 8 raw bytes before the payload override its
        // 64-bit field (Send.reply_to_seq, Receipt.read_up_to_seq).
        let number = options & 8 != 0 ? input.uint64() : nil
        var payload = input.rest()
        if kind == .request && options & 4 != 0 {
            payload = wrapped(payload, method: method)
        }
        if let number {
            payload = overriding(payload, kind: kind, with: number)
        }
        publish(topic: topic, payload: payload, qos: options & 1 == 0 ? .atLeastOnce : .atMostOnce, properties: properties, session: sessions[device]!)
    }
}

/// The serialized body of `request`.
func bodyBytes(_ request: Relay_V1_Request) throws -> [UInt8] {
    switch request.body {
    case .groupCreate(let body): return try body.serializedBytes()
    case .groupAdd(let body), .groupRemove(let body), .groupAdmins(let body): return try body.serializedBytes()
    case .groupLeave(let body): return try body.serializedBytes()
    case .conversationSettings(let body): return try body.serializedBytes()
    case .keysUpload(let body): return try body.serializedBytes()
    case .keysFetch(let body): return try body.serializedBytes()
    case .historySync(let body): return try body.serializedBytes()
    case .presenceQuery(let body): return try body.serializedBytes()
    case .privacy(let body): return try body.serializedBytes()
    case .devicesList(let body): return try body.serializedBytes()
    case .devicesRemove(let body): return try body.serializedBytes()
    case .devicesLink(let body): return try body.serializedBytes()
    case .pushRegister(let body): return try body.serializedBytes()
    case .pushUnregister(let body): return try body.serializedBytes()
    case .mediaUpload(let body): return try body.serializedBytes()
    case .mediaDownload(let body): return try body.serializedBytes()
    case .compactDeliveries(let body): return try body.serializedBytes()
    case nil: return []
    }
}

/// Seeds: a valid input of every kind, and a request of every method.
func seeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    func add(_ name: String, kind: Kind, sender: UInt8 = 0, conversation: UInt8 = 1, method: UInt8 = 0, options: UInt8 = 0, _ payload: some SwiftProtobuf.Message) throws {
        var seed = FuzzSeed()
        seed.byte(kind.rawValue)
        seed.byte(sender)
        seed.byte(conversation)
        seed.byte(method)
        seed.byte(options)
        seed.rest(try payload.serializedBytes() as [UInt8])
        seeds.append((name, seed.bytes))
    }
    var send = Relay_V1_Send()
    send.clientMessageID = "m1"
    send.ciphertext = Data("hello".utf8)
    try add("send-direct", kind: .send, send)
    try add("send-group", kind: .send, conversation: 3, send)
    var perDevice = send
    perDevice.ciphertext = Data()
    perDevice.deviceCiphertexts = ["bob-phone": Data("b".utf8), "alice-laptop": Data("a".utf8)]
    perDevice.replyToSeq = 1
    perDevice.ttlSeconds = 60
    try add("send-per-device", kind: .send, perDevice)
    var receipt = Relay_V1_Receipt()
    receipt.epoch = 1
    receipt.readUpToSeq = 1
    try add("receipt", kind: .receipt, sender: 2, receipt)
    try add("receipt-group", kind: .receipt, sender: 2, conversation: 3, receipt)
    var typing = Relay_V1_Typing()
    typing.typing = true
    try add("typing", kind: .typing, options: 1, typing)
    try add("typing-group", kind: .typing, conversation: 3, options: 1, typing)

    // The number option: 8 raw bytes (here 1) set the 64-bit field.
    for (name, kind, message) in [("send-number", Kind.send, send as any SwiftProtobuf.Message), ("receipt-number", .receipt, receipt)] {
        var seed = FuzzSeed()
        for byte in [kind.rawValue, kind == .send ? 0 : 2, 1, 0, 8] { seed.byte(byte) }
        seed.rest([1, 0, 0, 0, 0, 0, 0, 0] + (try message.serializedBytes() as [UInt8]))
        seeds.append((name, seed.bytes))
    }

    // Regressions: what crashed the relay (issue 10: #1 a send to and #2
    // typing on one's own conversation, #3 64-bit values over Int64.max, the
    // receipt from a non-member).
    try add("regression-send-self", kind: .send, conversation: 0, send)
    try add("regression-typing-self", kind: .typing, conversation: 0, options: 1, typing)
    var hugeReceipt = receipt
    hugeReceipt.readUpToSeq = 1 << 63
    try add("regression-receipt-2p63-nonmember", kind: .receipt, conversation: 2, hugeReceipt)
    var hugeReply = send
    hugeReply.replyToSeq = 1 << 63
    try add("regression-send-reply-2p63", kind: .send, hugeReply)

    var requests: [(String, Relay_V1_Request)] = []
    func request(_ method: String, _ build: (inout Relay_V1_Request) throws -> Void) rethrows {
        var request = Relay_V1_Request()
        request.requestID = "r1"
        try build(&request)
        requests.append((method, request))
    }
    request("group.create") { $0.groupCreate.members = ["bob", "carol"]; $0.groupCreate.encryptedName = Data([1, 2]) }
    request("group.add") { $0.groupAdd.conversation = "gfuzz1"; $0.groupAdd.users = ["carol"] }
    request("group.remove") { $0.groupRemove.conversation = "gfuzz1"; $0.groupRemove.users = ["bob"] }
    request("group.leave") { $0.groupLeave.conversation = "gfuzz1" }
    request("group.admins") { $0.groupAdmins.conversation = "gfuzz1"; $0.groupAdmins.users = ["bob"] }
    request("conversation.settings") { $0.conversationSettings.conversation = "alice~bob"; $0.conversationSettings.ttlSeconds = 3600 }
    try request("keys.upload") { $0.keysUpload = try keysUpload(prekeys: 2) }
    request("keys.fetch") { $0.keysFetch.user = "bob" }
    request("history.sync") { $0.historySync.conversation = "alice~bob"; $0.historySync.afterSeq = 0; $0.historySync.limit = 10 }
    request("presence.get") { $0.presenceQuery.user = "bob" }
    request("privacy.set") { $0.privacy.readReceipts = false; $0.privacy.lastSeen = "nobody" }
    request("devices.list") { $0.devicesList = Relay_V1_DevicesList() }
    request("devices.remove") { $0.devicesRemove.device = "alice-laptop" }
    request("devices.link") { $0.devicesLink.device = "alice-tablet" }
    request("push.register") {
        $0.pushRegister.webPush.endpoint = "https://push.example.net/wpush/abc"
        $0.pushRegister.webPush.p256Dh = Data([4] + [UInt8](repeating: 1, count: 64))
        $0.pushRegister.webPush.auth = Data([UInt8](repeating: 2, count: 16))
    }
    request("push.unregister") { $0.pushUnregister = Relay_V1_PushUnregister() }
    for (method, request) in requests {
        let index = UInt8(methods.firstIndex(of: method)!)
        try add("q-\(method)", kind: .request, method: index, options: 2, request)
        // The same body for the wrap option: the payload is the body alone.
        var seed = FuzzSeed()
        for byte in [Kind.request.rawValue, 0, 1, index, 4] { seed.byte(byte) }
        seed.rest(try bodyBytes(request))
        seeds.append(("q-\(method)-wrapped", seed.bytes))
    }
    return seeds
}
#endif
