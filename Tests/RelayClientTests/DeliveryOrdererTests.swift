import Testing

@testable import RelayClient

@Suite("DeliveryOrderer")
struct DeliveryOrdererTests {
    typealias Orderer = DeliveryOrderer<String>

    /// Feeds (conversation, seq) pairs and returns everything released, as "conv:seq".
    static func feed(_ orderer: inout Orderer, _ items: [(String, UInt64)]) -> [String] {
        items.flatMap { conversation, seq in
            orderer.receive("\(conversation):\(seq)", conversation: conversation, seq: seq).payloads
        }
    }

    @Test("in-order deliveries are released one by one")
    func inOrder() {
        var orderer = Orderer(baseline: .startsAt(1))
        #expect(Self.feed(&orderer, [("a", 1), ("a", 2), ("a", 3)]) == ["a:1", "a:2", "a:3"])
        #expect(orderer.lastReleased(in: "a") == 3)
        #expect(orderer.gaps.isEmpty)
    }

    @Test("duplicates of released and of held deliveries are dropped")
    func duplicates() {
        var orderer = Orderer(baseline: .startsAt(1))
        _ = Self.feed(&orderer, [("a", 1), ("a", 2)])
        if case .duplicate = orderer.receive("again", conversation: "a", seq: 2) {} else { Issue.record("2 again") }
        if case .duplicate = orderer.receive("again", conversation: "a", seq: 1) {} else { Issue.record("1 again") }
        if case .held = orderer.receive("a:5", conversation: "a", seq: 5) {} else { Issue.record("5 held") }
        if case .duplicate = orderer.receive("again", conversation: "a", seq: 5) {} else { Issue.record("5 again") }
        #expect(orderer.heldCount(in: "a") == 1)
    }

    @Test("out-of-order deliveries are held and released in order once the gap fills")
    func reorder() {
        var orderer = Orderer(baseline: .startsAt(1))
        #expect(Self.feed(&orderer, [("a", 3), ("a", 2)]).isEmpty)
        #expect(orderer.gaps(in: "a") == [1...1])
        #expect(Self.feed(&orderer, [("a", 1)]) == ["a:1", "a:2", "a:3"])
        #expect(orderer.gaps(in: "a").isEmpty)
        #expect(orderer.heldCount(in: "a") == 0)
    }

    @Test("gaps list every missing range in order")
    func gaps() {
        var orderer = Orderer(baseline: .startsAt(1))
        _ = Self.feed(&orderer, [("a", 1), ("a", 2), ("a", 3), ("a", 6), ("a", 7), ("a", 10)])
        #expect(orderer.gaps(in: "a") == [4...5, 8...9])
        #expect(orderer.gaps == ["a": [4...5, 8...9]])
        #expect(Self.feed(&orderer, [("a", 5)]).isEmpty)
        #expect(orderer.gaps(in: "a") == [4...4, 8...9])
        #expect(Self.feed(&orderer, [("a", 4)]) == ["a:4", "a:5", "a:6", "a:7"])
        #expect(orderer.gaps(in: "a") == [8...9])
    }

    @Test("conversations are ordered independently")
    func independentConversations() {
        var orderer = Orderer(baseline: .startsAt(1))
        let released = Self.feed(&orderer, [("a", 2), ("b", 1), ("b", 2), ("a", 1), ("b", 1)])
        #expect(released == ["b:1", "b:2", "a:1", "a:2"])
        #expect(orderer.lastReleasedByConversation == ["a": 2, "b": 2])
    }

    @Test("by default the first delivery of an unknown conversation sets the baseline")
    func firstSeenBaseline() {
        var orderer = Orderer()
        #expect(Self.feed(&orderer, [("g1", 500), ("g1", 502)]) == ["g1:500"])
        #expect(orderer.gaps(in: "g1") == [501...501])
        #expect(Self.feed(&orderer, [("g1", 499), ("g1", 501)]) == ["g1:501", "g1:502"])
    }

    @Test("a fixed baseline treats earlier seqs as duplicates")
    func fixedBaseline() {
        var orderer = Orderer(baseline: .startsAt(10))
        if case .duplicate = orderer.receive("x", conversation: "a", seq: 9) {} else { Issue.record("9") }
        #expect(Self.feed(&orderer, [("a", 11), ("a", 10)]) == ["a:10", "a:11"])
    }

    @Test("resuming after persisted seqs drops what was already released")
    func resume() {
        var orderer = Orderer(resumingAfter: ["a": 7])
        #expect(Self.feed(&orderer, [("a", 6), ("a", 7), ("a", 8)]) == ["a:8"])
    }

    @Test("skip gives up on a gap and releases what was held after it")
    func skip() {
        var orderer = Orderer(baseline: .startsAt(1))
        _ = Self.feed(&orderer, [("a", 1), ("a", 4), ("a", 5), ("a", 8)])
        #expect(orderer.skip(conversation: "a", through: 3) == ["a:4", "a:5"])
        #expect(orderer.gaps(in: "a") == [6...7])
        #expect(orderer.skip(conversation: "a", through: 2).isEmpty)
        #expect(orderer.skip(conversation: "a", through: 7) == ["a:8"])
        #expect(orderer.lastReleased(in: "a") == 8)
        #expect(Self.feed(&orderer, [("a", 7)]).isEmpty)
    }

    @Test("skipping through a held seq releases it too, in order")
    func skipThroughHeld() {
        var orderer = Orderer(baseline: .startsAt(1))
        _ = Self.feed(&orderer, [("a", 3), ("a", 5), ("a", 6)])
        #expect(orderer.skip(conversation: "a", through: 4) == ["a:3", "a:5", "a:6"])
        #expect(orderer.gaps(in: "a").isEmpty)
    }

    @Test("held deliveries are bounded: past the cap the oldest gap is skipped and reported")
    func boundedHold() {
        var orderer = Orderer(baseline: .startsAt(1), maximumHeld: 3)
        #expect(Self.feed(&orderer, [("a", 3), ("a", 4), ("a", 6)]).isEmpty)
        #expect(Self.feed(&orderer, [("a", 7)]) == ["a:3", "a:4"])
        #expect(orderer.gaps(in: "a") == [5...5])
        let skipped = orderer.takeSkipped()
        #expect(skipped.count == 1)
        #expect(skipped.first?.conversation == "a")
        #expect(skipped.first?.seqs == 1...2)
        #expect(orderer.skipped.isEmpty)
    }

    @Test("a shuffled redelivery with duplicates comes out once each, in order")
    func shuffled() {
        var orderer = Orderer(baseline: .startsAt(1))
        var rng = SplitMix(seed: 42)
        var items: [(String, UInt64)] = []
        for seq in UInt64(1)...200 {
            items.append(("a", seq))
            items.append(("b", seq))
            if seq % 7 == 0 { items.append(("a", seq)) }
        }
        items.shuffle(using: &rng)
        let released = Self.feed(&orderer, items)
        #expect(released.filter { $0.hasPrefix("a:") } == (1...200).map { "a:\($0)" })
        #expect(released.filter { $0.hasPrefix("b:") } == (1...200).map { "b:\($0)" })
        #expect(orderer.gaps.isEmpty)
    }
}

/// A seeded generator, so the shuffle is the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
