import Foundation
import RelayClient
import RelayE2EE
import SwiftProtobuf
import Testing

@Suite("SendBatches: a large group's distribution split over Sends under the size limit")
struct SendBatchesTests {
    /// Device ids and ciphertexts of the sizes a sender key distribution has (prekey messages of ~300 bytes).
    static func entries(_ count: Int, size: Int = 300) -> [(device: String, ciphertext: Data)] {
        (0 ..< count).map { ("member-\($0)-phone", Data(repeating: UInt8(truncatingIfNeeded: $0), count: size + $0 % 7)) }
    }

    @Test("an entry's size is what it adds to an encoded Send")
    func entryBytes() throws {
        for (device, ciphertext) in Self.entries(3) + [("d", Data(count: 1)), ("d", Data(count: 200)), ("d", Data(count: 20_000))] {
            let without = try Envelopes.send(clientMessageID: "id", ciphertext: Data([0])).serializedData().count
            let with = try Envelopes.send(clientMessageID: "id", ciphertext: Data([0]), deviceCiphertexts: [device: ciphertext])
                .serializedData().count
            #expect(with - without == SendBatches.entryBytes(device: device, ciphertext: ciphertext))
        }
    }

    @Test("1,024 member devices: several Sends, each under the limit, every device once, in order")
    func largeGroup() throws {
        let limit = SecureMessenger.Configuration().maximumSendBytes
        let entries = Self.entries(1024)
        let batches = SendBatches.split(entries, limit: limit)
        #expect(batches.count > 1)
        #expect(batches.reduce(0) { $0 + $1.count } == entries.count)
        #expect(Set(batches.flatMap(\.keys)) == Set(entries.map(\.device)))
        // In order: batch i holds a contiguous run of the entries.
        var next = 0
        for batch in batches {
            let run = entries[next ..< next + batch.count].map(\.device)
            #expect(Set(run) == Set(batch.keys))
            next += batch.count
            // The worst case of the rest of a Send: a 64-byte client message id, reply-to, ttl.
            let send = Envelopes.send(clientMessageID: String(repeating: "x", count: 64), ciphertext: Data([0]),
                                      deviceCiphertexts: batch, replyTo: UInt64.max, ttlSeconds: UInt32.max)
            let size = try send.serializedData().count
            #expect(size <= limit)
            #expect(SendBatches.fits(batch, limit: limit))
        }
        // Full batches: the next entry would not have fitted.
        for (index, batch) in batches.dropLast().enumerated() {
            let following = batches[index + 1]
            let first = try #require(entries.first { following[$0.device] != nil })
            #expect(SendBatches.bytes(of: batch) + SendBatches.reserve + SendBatches.entryBytes(device: first.device, ciphertext: first.ciphertext) > limit)
        }
    }

    @Test("a small group fits in one Send; nothing makes no Send; an oversized entry is alone")
    func edges() {
        #expect(SendBatches.split(Self.entries(5), limit: 56 * 1024).count == 1)
        #expect(SendBatches.split([], limit: 56 * 1024).isEmpty)
        let huge = [("a", Data(count: 10)), ("b", Data(count: 5_000)), ("c", Data(count: 10))]
        let batches = SendBatches.split(huge, limit: 1_024)
        #expect(batches.map { $0.keys.sorted() } == [["a"], ["b"], ["c"]])
    }
}
