import Crypto
import Foundation

/// A small preview of an attachment (docs/media.md, "Thumbnails"): bytes
/// the app provides (the server never decodes an image), sealed in
/// ``AttachmentFormat`` under their own fresh key and carried inside the
/// end-to-end encrypted pointer (`encrypted_thumbnail`, `thumbnail_key`):
/// never uploaded, never seen by a server.
///
/// The sealed plaintext is `length (u32 BE) | thumbnail`, padded (PADMÉ)
/// and sealed as one chunk, so the receiver learns the exact length only
/// after the tag checks.
public enum AttachmentThumbnail {
    /// The largest thumbnail: the whole message must fit a send (64 KiB).
    public static let maximumSize = 32 * 1024

    /// `thumbnail` sealed under a fresh key: (sealed bytes, key).
    public static func seal(_ thumbnail: [UInt8]) throws -> (sealed: [UInt8], key: [UInt8]) {
        guard thumbnail.count <= maximumSize else {
            throw AttachmentError("the thumbnail has \(thumbnail.count) bytes; at most \(maximumSize) fit in a message: scale it down")
        }
        let key = SymmetricKey(size: .bits256)
        var random = SystemRandomNumberGenerator()  // getrandom(2): cryptographically secure
        let prefix = (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
        let header = AttachmentFormat.header(noncePrefix: prefix)
        let n = UInt32(thumbnail.count)
        var plain = [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + thumbnail
        plain += [UInt8](repeating: 0, count: Int(AttachmentFormat.paddedSize(UInt64(plain.count))) - plain.count)
        let box = try AES.GCM.seal(plain, using: key, nonce: AttachmentFormat.nonce(header: header, index: 0),
                                   authenticating: AttachmentFormat.aad(header: header, final: true))
        return (header + Array(box.ciphertext) + Array(box.tag), key.withUnsafeBytes { Array($0) })
    }

    /// Opens what ``seal(_:)`` gave, checking the header, the tag (final
    /// chunk), the length and the zero padding.
    public static func open(_ sealed: [UInt8], key rawKey: [UInt8]) throws -> [UInt8] {
        guard rawKey.count == AttachmentFormat.keySize else { throw AttachmentError("the thumbnail key is not 32 bytes") }
        let overhead = AttachmentFormat.headerSize + AttachmentFormat.tagSize
        guard sealed.count >= overhead + 4, sealed.count <= overhead + maximumSize * 2 else {
            throw AttachmentError("the sealed thumbnail has \(sealed.count) bytes: not one")
        }
        let header = Array(sealed.prefix(AttachmentFormat.headerSize))
        guard AttachmentFormat.chunkSize(inHeader: header) != nil else { throw AttachmentError("not a sealed thumbnail (bad header)") }
        let body = sealed.dropFirst(AttachmentFormat.headerSize)
        let plain: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(nonce: AttachmentFormat.nonce(header: header, index: 0),
                                            ciphertext: body.dropLast(AttachmentFormat.tagSize), tag: body.suffix(AttachmentFormat.tagSize))
            plain = Array(try AES.GCM.open(box, using: SymmetricKey(data: rawKey), authenticating: AttachmentFormat.aad(header: header, final: true)))
        } catch {
            throw AttachmentError("the thumbnail does not authenticate (tampered, or the wrong key)")
        }
        let n = Int(plain[0]) << 24 | Int(plain[1]) << 16 | Int(plain[2]) << 8 | Int(plain[3])
        guard n <= maximumSize, n <= plain.count - 4, Int(AttachmentFormat.paddedSize(UInt64(n + 4))) == plain.count,
              plain.dropFirst(4 + n).allSatisfy({ $0 == 0 })
        else { throw AttachmentError("the thumbnail's length or padding is wrong") }
        return Array(plain[4..<(4 + n)])
    }
}
