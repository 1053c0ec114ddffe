import Crypto
import Foundation

/// The stored form of an attachment (docs/media.md, decision 0022): a
/// chunked AEAD in the STREAM construction (as age and Tink's streaming
/// AEAD use it), AES-256-GCM under a fresh key per attachment.
///
/// ```
/// header  = "RMA1" | chunk size (u32 BE) | nonce prefix (8 random bytes)   16 bytes
/// chunk i = AES-256-GCM(key, nonce = prefix | i (u32 BE),
///                       aad = header | final (1 byte: 1 on the last chunk, else 0),
///                       plaintext = padded bytes [i*C, min((i+1)*C, P)))          + 16-byte tag
/// ```
///
/// The plaintext is padded with zeros to P = ``paddedSize(_:)`` (PADMÉ) so
/// that the stored size tells little about the exact size, which travels
/// only inside the end-to-end encrypted pointer with the key and the SHA-256
/// digest of the stored bytes. Every chunk is checked as it arrives; the
/// final flag refuses a truncated blob and the counter a reordered one.
public enum AttachmentFormat {
    /// The first bytes of a stored attachment.
    public static let magic: [UInt8] = Array("RMA1".utf8)
    /// Plaintext bytes per chunk.
    public static let chunkSize = 64 * 1024
    /// Bytes of GCM tag after each chunk.
    public static let tagSize = 16
    /// Bytes of header.
    public static let headerSize = 16
    /// Key bytes (AES-256).
    public static let keySize = 32
    /// The largest file size handled (1 PiB): a pointer naming more is
    /// refused before any arithmetic on it.
    public static let maximumSize: UInt64 = 1 << 50
    /// The smallest and largest chunk size a reader accepts.
    static let chunkSizes = 1024...(16 * 1024 * 1024)

    /// PADMÉ (Nikitin et al., "Reducing Metadata Leakage from Encrypted
    /// Files and Communication with PURBs", 2019): rounds `length` up so
    /// that only O(log log length) bits of it remain, at most 12% more.
    public static func paddedSize(_ length: UInt64) -> UInt64 {
        guard length >= 4 else { return length }
        let e = UInt64(63 - length.leadingZeroBitCount)           // floor(log2 L)
        let s = UInt64(63 - e.leadingZeroBitCount) + 1             // floor(log2 E) + 1
        let lastBits = e - s
        let mask: UInt64 = (1 << lastBits) - 1
        let (sum, overflow) = length.addingReportingOverflow(mask)
        return overflow ? length : sum & ~mask
    }

    /// Chunks of a padded plaintext of `padded` bytes (at least one, so an
    /// empty file still has a final chunk).
    public static func chunkCount(padded: UInt64, chunkSize: Int = chunkSize) -> UInt64 {
        let c = UInt64(chunkSize)
        return max(1, (padded + c - 1) / c)
    }

    /// The stored size of a `length`-byte file.
    public static func storedSize(plaintext length: UInt64, chunkSize: Int = chunkSize) -> UInt64 {
        let padded = paddedSize(length)
        return UInt64(headerSize) + padded + chunkCount(padded: padded, chunkSize: chunkSize) * UInt64(tagSize)
    }

    /// The header for `noncePrefix` (8 bytes).
    static func header(noncePrefix: [UInt8], chunkSize: Int = chunkSize) -> [UInt8] {
        let c = UInt32(clamping: chunkSize)
        return magic + [UInt8(c >> 24), UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF)] + noncePrefix
    }

    /// The chunk size a header names, or nil when it is not a header.
    static func chunkSize(inHeader header: [UInt8]) -> Int? {
        guard header.count == headerSize, Array(header[0..<4]) == magic else { return nil }
        let c = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
        return chunkSizes.contains(c) ? c : nil
    }

    static func nonce(header: [UInt8], index: UInt64) throws -> AES.GCM.Nonce {
        let i = UInt32(truncatingIfNeeded: index)
        return try AES.GCM.Nonce(data: Array(header[8..<16]) + [UInt8(i >> 24), UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)])
    }

    static func aad(header: [UInt8], final: Bool) -> [UInt8] {
        header + [final ? 1 : 0]
    }
}
