// signal-bench: what end-to-end encryption costs a device (BENCHMARKS.md,
// "End-to-end encryption"). In-process, no relay: the Signal protocol over
// libsignal-protocol-c with the OpenSSL provider, stores in memory or in a
// state directory (0600 files, fsync per write). Prints medians of 5 runs.
import Foundation
import RelayClient
import RelayCore
import RelayE2EE
import Signal
import SwiftProtobuf

struct Device {
    let address: SignalAddress
    let store: SignalRecordStore
    let signal: SignalProtocol
    let identity: LocalIdentity
    let signed: PublicSignedPreKey
    var preKeys: [PublicPreKey]

    init(_ name: String, device: String, storage: any RecordStorage = MemoryRecordStorage(), preKeys: Int = 1) throws {
        address = SignalAddressing.address(user: name, device: device)
        store = SignalRecordStore(storage: storage)
        signal = try SignalProtocol(store: store)
        identity = try signal.createIdentity()
        signed = try signal.generateSignedPreKey(id: 1, timestampMs: 0)
        self.preKeys = try signal.generatePreKeys(start: 1, count: preKeys)
    }

    func bundle(_ index: Int = 0) -> PreKeyBundle {
        PreKeyBundle(registrationID: identity.registrationID, deviceID: address.deviceID, preKey: preKeys[index],
                     signedPreKey: signed, identityKey: identity.publicKey)
    }
}

/// CPU seconds of this process (user + system).
func cpu() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Median over 5 runs of (wall, cpu) seconds per operation.
func measure(_ operations: Int, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
    var walls: [Double] = [], cpus: [Double] = []
    for _ in 0 ..< 5 {
        let (w0, c0) = (now(), cpu())
        try body()
        walls.append((now() - w0) / Double(operations))
        cpus.append((cpu() - c0) / Double(operations))
    }
    return (median(walls), median(cpus))
}

func line(_ name: String, _ result: (wall: Double, cpu: Double), unit: Double = 1e6, suffix: String = "µs") {
    print(String(format: "%-58@ %10.1f %@ wall %10.1f %@ cpu", name as NSString, result.wall * unit, suffix as NSString, result.cpu * unit, suffix as NSString))
}

func content(_ text: String) throws -> Data {
    var c = Relay_E2ee_V1_Content()
    c.body = Data(text.utf8)
    return try c.serializedData()
}

func oneToOne(storage: () throws -> any RecordStorage, label: String, messages: Int) throws {
    let alice = try Device("alice", device: "alice-phone", storage: storage())
    let bob = try Device("bob", device: "bob-phone", storage: storage())
    try alice.signal.processBundle(bob.bundle(), for: bob.address)
    _ = try bob.signal.decrypt(alice.signal.encrypt(content("hi"), for: bob.address), from: alice.address)
    _ = try alice.signal.decrypt(bob.signal.encrypt(content("hi"), for: alice.address), from: bob.address)
    let plaintext = try content(String(repeating: "x", count: 100))
    let result = try measure(messages) {
        for _ in 0 ..< messages {
            let message = try alice.signal.encrypt(plaintext, for: bob.address)
            _ = try bob.signal.decrypt(message, from: alice.address)
        }
    }
    line("1:1 encrypt + decrypt, 100-byte text, \(label)", result)
    // Turns taken: every message answers the last one, so each starts a new
    // sending chain (a Diffie-Hellman ratchet step on both sides).
    let turns = try measure(messages) {
        for i in 0 ..< messages {
            let (from, to) = i % 2 == 0 ? (alice, bob) : (bob, alice)
            _ = try to.signal.decrypt(from.signal.encrypt(plaintext, for: to.address), from: from.address)
        }
    }
    line("1:1 turns (a ratchet step per message), \(label)", turns)
}

func firstContactOnly(count: Int) throws {
    let bob = try Device("bob", device: "bob-phone", preKeys: count * 5)
    let alices = try (0 ..< count * 5).map { try Device("alice\($0)", device: "alice\($0)-phone", preKeys: 1) }
    var next = 0
    let plaintext = try content("hello")
    let result = try measure(count) {
        for _ in 0 ..< count {
            let alice = alices[next]
            try alice.signal.processBundle(bob.bundle(next), for: bob.address)
            let message = try alice.signal.encrypt(plaintext, for: bob.address)
            _ = try bob.signal.decrypt(message, from: alice.address)
            next += 1
        }
    }
    line("first contact: X3DH from bundle + prekey message + decrypt", result)
}

func group(members: Int) throws {
    let alice = try Device("alice", device: "alice-phone")
    var peers: [Device] = []
    for i in 0 ..< members {
        let peer = try Device("m\(i)", device: "m\(i)-phone")
        try alice.signal.processBundle(peer.bundle(), for: peer.address)
        peers.append(peer)
    }
    let text = try content(String(repeating: "x", count: 100))
    var firstWall: [Double] = [], firstCPU: [Double] = [], steadyWall: [Double] = [], steadyCPU: [Double] = []
    var firstBytes = 0, steadyBytes = 0, firstSends = 0
    for run in 0 ..< 5 {
        let name = SenderKeyName(groupID: "g\(run)", sender: alice.address)
        var (w0, c0) = (now(), cpu())
        // First send: a new sender key, distributed pairwise to every member device
        // (in Sends under the size limit, split as SecureMessenger splits them), then the message.
        let distribution = try alice.signal.senderKeyDistribution(for: name)
        var carrier = Relay_E2ee_V1_Content()
        carrier.senderKeyDistribution = distribution
        let carried = try carrier.serializedData()
        var entries: [(device: String, ciphertext: Data)] = []
        for (i, peer) in peers.enumerated() {
            entries.append(("m\(i)-phone", E2EEFrame.signal(try alice.signal.encrypt(carried, for: peer.address)).bytes))
        }
        let batches = SendBatches.split(entries, limit: SecureMessenger.Configuration().maximumSendBytes)
        let groupMessage = try alice.signal.groupEncrypt(text, for: name)
        var sends = batches.map { Envelopes.send(clientMessageID: UUID().uuidString, ciphertext: E2EEFrame.notForYou.bytes, deviceCiphertexts: $0) }
        sends.append(Envelopes.send(clientMessageID: UUID().uuidString, ciphertext: E2EEFrame.signal(SignalCiphertext(kind: .senderKey, body: groupMessage)).bytes))
        firstBytes = try sends.reduce(0) { $0 + (try $1.serializedData().count) }
        firstSends = sends.count
        firstWall.append(now() - w0)
        firstCPU.append(cpu() - c0)
        (w0, c0) = (now(), cpu())
        let steadyMessage = try alice.signal.groupEncrypt(text, for: name)
        let steady = Envelopes.send(clientMessageID: UUID().uuidString,
                                    ciphertext: E2EEFrame.signal(SignalCiphertext(kind: .senderKey, body: steadyMessage)).bytes)
        steadyBytes = try steady.serializedData().count
        steadyWall.append(now() - w0)
        steadyCPU.append(cpu() - c0)
    }
    line("group of \(members), first send (new sender key, pairwise to all)", (median(firstWall), median(firstCPU)), unit: 1e3, suffix: "ms")
    print("    on the wire: \(firstBytes) bytes in \(firstSends) Sends")
    line("group of \(members), later send (sender key only)", (median(steadyWall), median(steadyCPU)))
    print("    Send on the wire: \(steadyBytes) bytes (100-byte text)")
    // A member's side: take in the distribution, decrypt.
    let member = peers[0]
    let name = SenderKeyName(groupID: "bench-member", sender: alice.address)
    try member.signal.processSenderKeyDistribution(alice.signal.senderKeyDistribution(for: name), for: name)
    let messages = try (0 ..< 5_000).map { _ in try alice.signal.groupEncrypt(text, for: name) }
    var index = 0
    let decrypt = try measure(1_000) {
        for _ in 0 ..< 1_000 {
            _ = try member.signal.groupDecrypt(messages[index], from: name)
            index += 1
        }
    }
    line("group member: decrypt one sender key message", decrypt)
}

let arguments = CommandLine.arguments
let members = arguments.count > 1 ? Int(arguments[1]) ?? 1024 : 1024
do {
    try oneToOne(storage: { MemoryRecordStorage() }, label: "memory", messages: 2_000)
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("signal-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    try oneToOne(storage: { try DirectoryRecordStorage(directory: root.appendingPathComponent(UUID().uuidString)) },
                 label: "state directory", messages: 200)
    try firstContactOnly(count: 100)
    try group(members: members)
} catch {
    FileHandle.standardError.write(Data("signal-bench: \(error)\n".utf8))
    exit(1)
}
