import Foundation

/// How per-device ciphertexts are split over several `Send`s so that each
/// stays under the relay's size limit (`maxSendBytes`, 64 KiB by default):
/// a large group's sender key distribution is one pairwise message per
/// member device, too many for one `Send` (docs/e2ee.md, "Large groups").
///
/// Pure: sizes are the exact protobuf encoding of a `device_ciphertexts`
/// entry (`map<string, bytes>` field 3 of `Send`); the rest of a `Send`
/// (client message id, shared ciphertext, tags) is bounded by `reserve`.
public enum SendBatches {
    /// Bytes a `Send` needs besides its `device_ciphertexts` (a 64-byte client
    /// message id, a short shared ciphertext, reply-to, ttl, their tags), with room to spare.
    public static let reserve = 256

    /// Encoded bytes one `device_ciphertexts` entry adds to a `Send`.
    public static func entryBytes(device: String, ciphertext: Data) -> Int {
        let key = device.utf8.count
        let value = ciphertext.count
        let inner = 1 + varintBytes(key) + key + 1 + varintBytes(value) + value
        return 1 + varintBytes(inner) + inner
    }

    /// Bytes of the entries `ciphertexts` together.
    public static func bytes(of ciphertexts: [String: Data]) -> Int {
        ciphertexts.reduce(0) { $0 + entryBytes(device: $1.key, ciphertext: $1.value) }
    }

    /// Whether `ciphertexts` fit in one `Send` of at most `limit` bytes.
    public static func fits(_ ciphertexts: [String: Data], limit: Int) -> Bool {
        bytes(of: ciphertexts) + reserve <= limit
    }

    /// `entries` in order, cut into batches that each fit in one `Send` of at
    /// most `limit` bytes. An entry too large for any `Send` is alone in its
    /// batch (the relay refuses it; a pairwise message is never that large).
    public static func split(_ entries: [(device: String, ciphertext: Data)], limit: Int) -> [[String: Data]] {
        var batches: [[String: Data]] = []
        var batch: [String: Data] = [:]
        var used = reserve
        for (device, ciphertext) in entries {
            let size = entryBytes(device: device, ciphertext: ciphertext)
            if !batch.isEmpty && used + size > limit {
                batches.append(batch)
                batch = [:]
                used = reserve
            }
            batch[device] = ciphertext
            used += size
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }

    private static func varintBytes(_ value: Int) -> Int {
        var count = 1
        var rest = value >> 7
        while rest > 0 {
            count += 1
            rest >>= 7
        }
        return count
    }
}
