/// A log-linear histogram of non-negative integer samples (nanoseconds here),
/// in the manner of HdrHistogram: values below 256 are counted exactly;
/// above that, each power-of-two range is split into 128 equal buckets, so a
/// reported value is within 1/128 (< 0.8 %) of the true one. Fixed size
/// (7,424 counters), no allocation per sample, mergeable.
public struct LatencyHistogram: Sendable, Hashable {
    /// Bits of mantissa kept below the leading one: 2^7 = 128 buckets per octave.
    static let subBucketBits = 7
    static let subBucketCount = 1 << subBucketBits
    /// Values below this are their own bucket.
    static let exactLimit: UInt64 = 1 << (subBucketBits + 1)
    static let bucketCount = Int(exactLimit) + (63 - subBucketBits) * subBucketCount

    private var counts: [UInt64]
    /// The number of samples recorded.
    public private(set) var count: UInt64 = 0
    /// The smallest sample, exact; `UInt64.max` when empty.
    public private(set) var min: UInt64 = .max
    /// The largest sample, exact; 0 when empty.
    public private(set) var max: UInt64 = 0
    /// The sum of all samples, exact (no nanosecond latency total of a
    /// realistic run comes near 2^64).
    public private(set) var sum: UInt64 = 0

    /// An empty histogram.
    public init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    static func bucketIndex(_ value: UInt64) -> Int {
        if value < exactLimit { return Int(value) }
        let msb = 63 - value.leadingZeroBitCount  // >= subBucketBits + 1
        let shift = msb - subBucketBits
        let mantissa = Int(value >> UInt64(shift)) - subBucketCount  // 0..<128
        return Int(exactLimit) + (shift - 1) * subBucketCount + mantissa
    }

    /// The largest value that falls into bucket `index`.
    static func highestValue(inBucket index: Int) -> UInt64 {
        if index < Int(exactLimit) { return UInt64(index) }
        let shift = (index - Int(exactLimit)) / subBucketCount + 1
        let mantissa = UInt64((index - Int(exactLimit)) % subBucketCount + subBucketCount)
        let lowest = mantissa << UInt64(shift)
        return lowest + ((1 << UInt64(shift)) - 1)
    }

    /// Records one sample.
    public mutating func record(_ value: UInt64) {
        counts[Self.bucketIndex(value)] &+= 1
        count &+= 1
        sum &+= value
        if value < min { min = value }
        if value > max { max = value }
    }

    /// Adds every sample of `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for i in counts.indices where other.counts[i] != 0 {
            counts[i] &+= other.counts[i]
        }
        count &+= other.count
        sum &+= other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The value at or below which `percentile` percent of the samples lie
    /// (the bucket's highest value, clamped to the exact maximum); 0 when empty.
    public func value(atPercentile percentile: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let clamped = Swift.min(Swift.max(percentile, 0), 100)
        var target = UInt64((clamped / 100 * Double(count)).rounded(.up))
        target = Swift.max(1, Swift.min(target, count))
        var seen: UInt64 = 0
        for (index, c) in counts.enumerated() where c != 0 {
            seen += c
            if seen >= target {
                return Swift.min(Self.highestValue(inBucket: index), max)
            }
        }
        return max
    }

    /// The arithmetic mean, exact; 0 when empty.
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
}
