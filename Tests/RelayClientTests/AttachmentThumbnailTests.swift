import RelayE2EE
import Testing

/// Thumbnails sealed under their own key (docs/media.md): round trips, and
/// damage, the wrong key and oversized previews refused.
@Suite struct AttachmentThumbnailTests {
    func random(_ count: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    @Test(arguments: [0, 1, 100, 5000, AttachmentThumbnail.maximumSize])
    func roundTrips(size: Int) throws {
        let thumbnail = random(size)
        let (sealed, key) = try AttachmentThumbnail.seal(thumbnail)
        #expect(key.count == 32)
        #expect(sealed.count >= 16 + 4 + size + 16)
        #expect(try AttachmentThumbnail.open(sealed, key: key) == thumbnail)
    }

    @Test func theSealedFormHoldsNoPlaintextAndEachSealUsesAFreshKey() throws {
        let marker = Array("THUMBNAIL-MARKER-0123456789".utf8)
        let thumbnail = marker + random(2000) + marker
        let (a, keyA) = try AttachmentThumbnail.seal(thumbnail)
        let (b, keyB) = try AttachmentThumbnail.seal(thumbnail)
        #expect(keyA != keyB && a != b)
        for sealed in [a, b] {
            #expect(!(0...(sealed.count - marker.count)).contains { Array(sealed[$0..<($0 + marker.count)]) == marker })
        }
    }

    @Test func damageOrTheWrongKeyIsRefused() throws {
        let (sealed, key) = try AttachmentThumbnail.seal(random(300))
        for index in [0, 5, 12, 16, 40, sealed.count - 1] {
            var bad = sealed
            bad[index] ^= 0x01
            #expect(throws: AttachmentError.self) { try AttachmentThumbnail.open(bad, key: key) }
        }
        #expect(throws: AttachmentError.self) { try AttachmentThumbnail.open(sealed, key: random(32)) }
        #expect(throws: AttachmentError.self) { try AttachmentThumbnail.open(sealed, key: Array(key.prefix(16))) }
        #expect(throws: AttachmentError.self) { try AttachmentThumbnail.open(Array(sealed.prefix(30)), key: key) }
        #expect(throws: AttachmentError.self) { try AttachmentThumbnail.open([], key: key) }
    }

    @Test func aThumbnailTooLargeForAMessageIsRefused() {
        #expect(throws: AttachmentError.self) { try AttachmentThumbnail.seal(random(AttachmentThumbnail.maximumSize + 1)) }
    }
}
