import Testing

@testable import RelayBench

@Suite struct LatencyHistogramTests {
    @Test func emptyHistogramReportsZero() {
        let h = LatencyHistogram()
        #expect(h.count == 0)
        #expect(h.value(atPercentile: 50) == 0)
        #expect(h.mean == 0)
    }

    @Test func smallValuesAreExact() {
        var h = LatencyHistogram()
        for v in UInt64(0)..<256 { h.record(v) }
        #expect(h.value(atPercentile: 50) == 127)
        #expect(h.value(atPercentile: 100) == 255)
        #expect(h.min == 0)
        #expect(h.max == 255)
    }

    @Test func bucketsCoverEveryValueWithinOnePercent() {
        var value: UInt64 = 1
        while value < UInt64.max / 3 {
            for v in [value, value + 1, value * 3 / 2] {
                let index = LatencyHistogram.bucketIndex(v)
                #expect(index < LatencyHistogram.bucketCount)
                let high = LatencyHistogram.highestValue(inBucket: index)
                #expect(high >= v)
                #expect(Double(high - v) <= Double(v) / 100)
            }
            value *= 3
        }
        #expect(LatencyHistogram.bucketIndex(.max) == LatencyHistogram.bucketCount - 1)
    }

    @Test func percentilesOfAUniformSpread() {
        var h = LatencyHistogram()
        for v in UInt64(1)...100_000 { h.record(v * 1000) }  // 1 µs ... 100 ms
        let p50 = Double(h.value(atPercentile: 50))
        let p99 = Double(h.value(atPercentile: 99))
        let p999 = Double(h.value(atPercentile: 99.9))
        #expect(abs(p50 - 50_000_000) / 50_000_000 < 0.01)
        #expect(abs(p99 - 99_000_000) / 99_000_000 < 0.01)
        #expect(abs(p999 - 99_900_000) / 99_900_000 < 0.01)
        #expect(h.value(atPercentile: 100) == 100_000_000)
    }

    @Test func mergeAddsCounts() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        a.record(10)
        b.record(1_000_000)
        b.record(5)
        a.merge(b)
        #expect(a.count == 3)
        #expect(a.min == 5)
        #expect(a.max == 1_000_000)
        #expect(a.sum == 1_000_015)
    }
}
