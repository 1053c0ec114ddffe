import Testing
@testable import RelayMedia

@Suite struct TusRulesTests {
    func status(_ body: () throws -> Void) -> Int {
        do {
            try body()
            return 0
        } catch {
            return (error as? MediaRefusal)?.status ?? -1
        }
    }

    @Test func onlyVersion100IsSpoken() {
        #expect(status { try TusRules.checkResumable("1.0.0") } == 0)
        #expect(status { try TusRules.checkResumable(nil) } == 412)
        #expect(status { try TusRules.checkResumable("0.2.2") } == 412)
    }

    @Test func creationNeedsTheGrantedLength() {
        #expect((try? TusRules.creationLength("100", deferLength: nil, granted: 100, maximum: 1000)) == 100)
        #expect(status { _ = try TusRules.creationLength("101", deferLength: nil, granted: 100, maximum: 1000) } == 413)
        #expect(status { _ = try TusRules.creationLength("1001", deferLength: nil, granted: 2000, maximum: 1000) } == 413)
        #expect(status { _ = try TusRules.creationLength("99", deferLength: nil, granted: 100, maximum: 1000) } == 400)
        #expect(status { _ = try TusRules.creationLength(nil, deferLength: nil, granted: 100, maximum: 1000) } == 400)
        #expect(status { _ = try TusRules.creationLength("-1", deferLength: nil, granted: 100, maximum: 1000) } == 400)
        #expect(status { _ = try TusRules.creationLength("1e3", deferLength: nil, granted: 100, maximum: 1000) } == 400)
        #expect(status { _ = try TusRules.creationLength("99999999999999999999999", deferLength: nil, granted: 100, maximum: 1000) } == 400)
        #expect(status { _ = try TusRules.creationLength(nil, deferLength: "1", granted: 100, maximum: 1000) } == 400)
    }

    @Test func aPatchMustBeAtTheStoredOffset() {
        let ct = "application/offset+octet-stream"
        #expect((try? TusRules.checkPatch(contentType: ct, offsetHeader: "40", contentLength: "60", storedOffset: 40, length: 100)) == 40)
        #expect(status { _ = try TusRules.checkPatch(contentType: ct, offsetHeader: "39", contentLength: nil, storedOffset: 40, length: 100) } == 409)
        #expect(status { _ = try TusRules.checkPatch(contentType: ct, offsetHeader: "41", contentLength: nil, storedOffset: 40, length: 100) } == 409)
        #expect(status { _ = try TusRules.checkPatch(contentType: ct, offsetHeader: "40", contentLength: "61", storedOffset: 40, length: 100) } == 413)
        #expect(status { _ = try TusRules.checkPatch(contentType: "application/octet-stream", offsetHeader: "40", contentLength: nil, storedOffset: 40, length: 100) } == 415)
        #expect(status { _ = try TusRules.checkPatch(contentType: nil, offsetHeader: "40", contentLength: nil, storedOffset: 40, length: 100) } == 415)
        #expect(status { _ = try TusRules.checkPatch(contentType: ct, offsetHeader: nil, contentLength: nil, storedOffset: 40, length: 100) } == 400)
        #expect(status { _ = try TusRules.checkPatch(contentType: ct, offsetHeader: "x", contentLength: nil, storedOffset: 40, length: 100) } == 400)
    }

    @Test func aStreamedBodyFitsUpToTheLength() {
        #expect(TusRules.fits(chunk: 60, written: 40, length: 100))
        #expect(!TusRules.fits(chunk: 61, written: 40, length: 100))
        #expect(!TusRules.fits(chunk: 1, written: 101, length: 100))
    }
}
