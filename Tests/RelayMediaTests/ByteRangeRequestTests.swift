import Testing
@testable import RelayMedia

/// RFC 7233 §2.1 examples and edges, for a 10000-byte representation.
@Suite struct ByteRangeRequestTests {
    func r(_ header: String?, _ length: UInt64 = 10000) -> ByteRangeRequest { ByteRangeRequest.resolve(header, length: length) }

    @Test func theRFCExamples() {
        #expect(r("bytes=0-499") == .partial(first: 0, last: 499))
        #expect(r("bytes=500-999") == .partial(first: 500, last: 999))
        #expect(r("bytes=-500") == .partial(first: 9500, last: 9999))
        #expect(r("bytes=9500-") == .partial(first: 9500, last: 9999))
        #expect(r("bytes=0-0") == .partial(first: 0, last: 0))
        #expect(r("bytes=-1") == .partial(first: 9999, last: 9999))
    }

    @Test func aLastPastTheEndIsClampedAndASuffixLongerThanTheBlobIsAllOfIt() {
        #expect(r("bytes=9000-20000") == .partial(first: 9000, last: 9999))
        #expect(r("bytes=-20000") == .partial(first: 0, last: 9999))
        #expect(r("bytes=0-99999999999999999999999") == .partial(first: 0, last: 9999))
    }

    @Test func noByteInsideIsUnsatisfiable() {
        #expect(r("bytes=10000-") == .unsatisfiable)
        #expect(r("bytes=10000-10005") == .unsatisfiable)
        #expect(r("bytes=-0") == .unsatisfiable)
        #expect(r("bytes=0-", 0) == .unsatisfiable)
        #expect(r("bytes=99999999999999999999999-") == .unsatisfiable)
    }

    @Test func whatIsNotServedIsIgnored() {
        #expect(r(nil) == .whole)
        #expect(r("items=0-5") == .whole)
        #expect(r("bytes=5-1") == .whole)
        #expect(r("bytes=0-1,5-6") == .whole)
        #expect(r("bytes=a-b") == .whole)
        #expect(r("bytes=") == .whole)
        #expect(r("bytes=-") == .whole)
        #expect(r("bytes=+1-2") == .whole)
        #expect(r("BYTES=1-2") == .partial(first: 1, last: 2))
    }
}
