import Testing

@testable import RelayCore

@Suite struct SeqTests {
    @Test func acceptsOneThroughTwoToThe53() throws {
        #expect(Seq(0) == nil)
        #expect(Seq(1)?.value == 1)
        #expect(Seq(Seq.maximum)?.int64 == Int64(1) << 53)
        #expect(Seq(Seq.maximum + 1) == nil)
        #expect(Seq(UInt64(1) << 63) == nil)
        #expect(Seq(UInt64.max) == nil)
    }

    @Test func anOptionalSeqIsNilForZeroAndThrowsPastTheMaximum() throws {
        #expect(try Seq.optional(0) == nil)
        #expect(try Seq.optional(7) == Seq(7))
        #expect(throws: SeqOutOfRange(value: UInt64.max)) { try Seq.optional(UInt64.max) }
    }
}
