import Foundation
import RelayE2EE
import Testing

/// The attachment format (decision 0022) on real files: round trips at the
/// chunk edges, and every kind of damage refused.
@Suite struct AttachmentFilesTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("attachments-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func random(_ count: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    @Test(arguments: [0, 1, 3, 4, 1000, 65_535, 65_536, 65_537, 3 * 65_536 + 17])
    func roundTripsAtTheEdges(size: Int) throws {
        let plain = random(size)
        let input = try file("in", plain)
        let sealedURL = directory.appendingPathComponent("sealed")
        let sealed = try AttachmentFiles.seal(input, into: sealedURL)
        let stored = try Data(contentsOf: sealedURL)
        #expect(UInt64(stored.count) == sealed.storedSize)
        #expect(sealed.storedSize == AttachmentFormat.storedSize(plaintext: UInt64(size)))
        #expect(sealed.size == UInt64(size))
        let output = directory.appendingPathComponent("out")
        try AttachmentFiles.open(sealedURL, into: output, key: sealed.key, digest: sealed.digest, size: sealed.size)
        #expect(try Data(contentsOf: output) == Data(plain))
    }

    @Test func theStoredBlobHoldsNoPlaintextAndKeysAreFresh() throws {
        let marker = Array("PLAINTEXT-MARKER-0123456789".utf8)
        let plain = (0..<1000).flatMap { _ in marker }
        let input = try file("in", plain)
        let a = try AttachmentFiles.seal(input, into: directory.appendingPathComponent("a"))
        let b = try AttachmentFiles.seal(input, into: directory.appendingPathComponent("b"))
        let stored = try Data(contentsOf: directory.appendingPathComponent("a"))
        #expect(stored.range(of: Data(marker)) == nil)
        #expect(a.key != b.key)
        #expect(a.digest != b.digest)
    }

    @Test func paddingHidesTheExactSize() {
        #expect(AttachmentFormat.paddedSize(0) == 0)
        #expect(AttachmentFormat.paddedSize(9) == 10)
        // PADMÉ's worked example: 2^20 + 1 rounds to the next multiple of 2^15.
        #expect(AttachmentFormat.paddedSize(1_048_577) == 1_081_344)
        for size: UInt64 in [5, 100, 1000, 12_345, 1_000_000, 20_000_000, 104_857_600] {
            let padded = AttachmentFormat.paddedSize(size)
            #expect(padded >= size)
            #expect(Double(padded - size) <= Double(size) * 0.12 + 1)
        }
        // Neighbouring sizes share a stored size.
        #expect(AttachmentFormat.storedSize(plaintext: 20_000_000) == AttachmentFormat.storedSize(plaintext: 20_000_001))
    }

    func expectRefused(_ stored: Data, _ sealed: SealedAttachment, key: [UInt8]? = nil, digest: [UInt8]? = nil, size: UInt64? = nil) throws {
        let damaged = directory.appendingPathComponent("damaged-\(UUID().uuidString)")
        try stored.write(to: damaged)
        let output = directory.appendingPathComponent("out-\(UUID().uuidString)")
        #expect(throws: AttachmentError.self) {
            try AttachmentFiles.open(damaged, into: output, key: key ?? sealed.key, digest: digest ?? sealed.digest, size: size ?? sealed.size)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path), "nothing is left of a refused attachment")
    }

    @Test func damageIsRefused() throws {
        let input = try file("in", random(3 * 65_536 + 5))
        let sealedURL = directory.appendingPathComponent("sealed")
        let sealed = try AttachmentFiles.seal(input, into: sealedURL)
        let stored = try Data(contentsOf: sealedURL)
        let chunk = AttachmentFormat.chunkSize + AttachmentFormat.tagSize
        let header = AttachmentFormat.headerSize

        var flipped = stored
        flipped[header + 70_000] ^= 1
        try expectRefused(flipped, sealed)
        var badHeader = stored
        badHeader[10] ^= 1
        try expectRefused(badHeader, sealed)
        // Chunks 0 and 1 swapped.
        var swapped = stored
        swapped.replaceSubrange(header..<(header + chunk), with: stored[(header + chunk)..<(header + 2 * chunk)])
        swapped.replaceSubrange((header + chunk)..<(header + 2 * chunk), with: stored[header..<(header + chunk)])
        try expectRefused(swapped, sealed)
        // Truncated to whole chunks (the last one missing), with the size claimed to match.
        let truncated = stored.prefix(header + 3 * chunk)
        try expectRefused(truncated, sealed)
        try expectRefused(stored, sealed, key: Array(repeating: 1, count: 32))
        try expectRefused(stored, sealed, digest: Array(repeating: 0, count: 32))
        // A size whose stored form differs (the size itself is the pointer's word, end-to-end authenticated).
        try expectRefused(stored, sealed, size: sealed.size * 2)
        // A size no file has (a hostile pointer) is refused, not trapped on.
        try expectRefused(stored, sealed, size: UInt64.max)
        #expect(AttachmentFormat.paddedSize(UInt64.max) == UInt64.max)
    }
}
