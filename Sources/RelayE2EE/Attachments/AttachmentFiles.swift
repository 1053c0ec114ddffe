import Crypto
import Foundation

/// What sealing a file gives: the pointer's secrets and sizes.
public struct SealedAttachment: Sendable, Equatable {
    /// The AES-256 key (32 bytes).
    public var key: [UInt8]
    /// SHA-256 of the stored bytes.
    public var digest: [UInt8]
    /// The file's exact size.
    public var size: UInt64
    /// The stored (padded, sealed) size: what is uploaded.
    public var storedSize: UInt64
}

/// Seals and opens attachment files in ``AttachmentFormat``, a chunk at a
/// time: memory stays flat whatever the size.
public enum AttachmentFiles {
    /// Seals `input` into `output` (created or replaced) under a fresh key.
    public static func seal(_ input: URL, into output: URL) throws -> SealedAttachment {
        let key = SymmetricKey(size: .bits256)
        var random = SystemRandomNumberGenerator()  // getrandom(2): cryptographically secure
        let prefix = (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
        let reader = try FileHandle(forReadingFrom: input)
        defer { try? reader.close() }
        let size = try reader.seekToEnd()
        try reader.seek(toOffset: 0)
        guard size <= AttachmentFormat.maximumSize else { throw AttachmentError("\(input.path) is larger than 1 PiB") }
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw AttachmentError("cannot create \(output.path)")
        }
        let writer = try FileHandle(forWritingTo: output)
        defer { try? writer.close() }
        let header = AttachmentFormat.header(noncePrefix: prefix)
        var hash = SHA256()
        func emit(_ bytes: some DataProtocol) throws {
            hash.update(data: bytes)
            try writer.write(contentsOf: bytes)
        }
        try emit(header)
        let padded = AttachmentFormat.paddedSize(size)
        let chunks = AttachmentFormat.chunkCount(padded: padded)
        var remaining = size
        for index in 0..<chunks {
            let start = index * UInt64(AttachmentFormat.chunkSize)
            let length = Int(min(UInt64(AttachmentFormat.chunkSize), padded - start))
            var plain = Data()
            if remaining > 0 {
                let want = Int(min(UInt64(length), remaining))
                plain = try reader.read(upToCount: want) ?? Data()
                guard plain.count == want else { throw AttachmentError("\(input.path) changed while it was being sealed") }
                remaining -= UInt64(want)
            }
            if plain.count < length { plain.append(Data(count: length - plain.count)) }
            let box = try AES.GCM.seal(plain, using: key, nonce: AttachmentFormat.nonce(header: header, index: index),
                                       authenticating: AttachmentFormat.aad(header: header, final: index == chunks - 1))
            try emit(box.ciphertext)
            try emit(box.tag)
        }
        try writer.synchronize()
        return SealedAttachment(key: key.withUnsafeBytes { Array($0) }, digest: Array(hash.finalize()),
                                size: size, storedSize: AttachmentFormat.storedSize(plaintext: size))
    }

    /// Opens the stored attachment `input` into `output`: checks the stored
    /// size, every chunk's tag, the final chunk, the padding and the
    /// digest; `output` is removed when any fails.
    public static func open(_ input: URL, into output: URL, key: [UInt8], digest: [UInt8], size: UInt64) throws {
        do {
            try openChecked(input, into: output, key: key, digest: digest, size: size)
        } catch {
            try? FileManager.default.removeItem(at: output)
            throw error
        }
    }

    private static func openChecked(_ input: URL, into output: URL, key rawKey: [UInt8], digest: [UInt8], size: UInt64) throws {
        guard rawKey.count == AttachmentFormat.keySize else { throw AttachmentError("the pointer's key is not 32 bytes") }
        guard size <= AttachmentFormat.maximumSize else { throw AttachmentError("the pointer's size \(size) is beyond any file") }
        let key = SymmetricKey(data: rawKey)
        let reader = try FileHandle(forReadingFrom: input)
        defer { try? reader.close() }
        let stored = try reader.seekToEnd()
        try reader.seek(toOffset: 0)
        var hash = SHA256()
        let header = Array(try reader.read(upToCount: AttachmentFormat.headerSize) ?? Data())
        hash.update(data: header)
        guard let chunkSize = AttachmentFormat.chunkSize(inHeader: header) else { throw AttachmentError("not an attachment (bad header)") }
        guard stored == AttachmentFormat.storedSize(plaintext: size, chunkSize: chunkSize) else {
            throw AttachmentError("the blob has \(stored) bytes; a \(size)-byte file is stored in \(AttachmentFormat.storedSize(plaintext: size, chunkSize: chunkSize))")
        }
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else { throw AttachmentError("cannot create \(output.path)") }
        let writer = try FileHandle(forWritingTo: output)
        defer { try? writer.close() }
        let padded = AttachmentFormat.paddedSize(size)
        let chunks = AttachmentFormat.chunkCount(padded: padded, chunkSize: chunkSize)
        var remaining = size
        for index in 0..<chunks {
            let start = index * UInt64(chunkSize)
            let length = Int(min(UInt64(chunkSize), padded - start))
            let sealed = try reader.read(upToCount: length + AttachmentFormat.tagSize) ?? Data()
            guard sealed.count == length + AttachmentFormat.tagSize else { throw AttachmentError("the blob is truncated") }
            hash.update(data: sealed)
            let box = try AES.GCM.SealedBox(nonce: AttachmentFormat.nonce(header: header, index: index),
                                            ciphertext: sealed.prefix(length), tag: sealed.suffix(AttachmentFormat.tagSize))
            let plain: Data
            do {
                plain = try AES.GCM.open(box, using: key, authenticating: AttachmentFormat.aad(header: header, final: index == chunks - 1))
            } catch {
                throw AttachmentError("chunk \(index) does not authenticate (tampered, reordered or truncated blob, or the wrong key)")
            }
            let keep = Int(min(UInt64(plain.count), remaining))
            try writer.write(contentsOf: plain.prefix(keep))
            remaining -= UInt64(keep)
            guard plain.dropFirst(keep).allSatisfy({ $0 == 0 }) else { throw AttachmentError("the padding is not zeros") }
        }
        guard Array(hash.finalize()) == digest else { throw AttachmentError("the blob's SHA-256 is not the pointer's digest") }
        try writer.synchronize()
    }
}
