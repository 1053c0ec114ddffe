import Testing

/// Test doubles shared by the router tests: a brute-force topic matcher
/// written straight from MQTT 5.0 §4.7, and a seeded random generator.

/// True when `filter` matches `topic`, by comparing level after level.
func referenceMatches(filter: String, topic: String) -> Bool {
    let filterLevels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Array($0) }
    let topicLevels = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Array($0) }
    let plus = Array("+".utf8)
    let hash = Array("#".utf8)
    if topicLevels[0].first == UInt8(ascii: "$"), filterLevels[0] == plus || filterLevels[0] == hash {
        return false
    }
    for (index, level) in filterLevels.enumerated() {
        if level == hash {
            return true
        }
        if index >= topicLevels.count {
            return false
        }
        if level != plus, level != topicLevels[index] {
            return false
        }
    }
    return filterLevels.count == topicLevels.count
}

/// SplitMix64, so a failing randomized test can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Topic names over a small alphabet, with empty and `$` levels.
func randomTopic(using generator: inout SeededGenerator) -> String {
    let alphabet = ["a", "b", "", "$x"]
    let count = Int.random(in: 1...4, using: &generator)
    return (0..<count).map { _ in alphabet.randomElement(using: &generator)! }.joined(separator: "/")
}

/// Valid topic filters over the same alphabet plus `+`, with `#` only last.
func randomFilter(using generator: inout SeededGenerator) -> String {
    let alphabet = ["a", "b", "", "$x", "+"]
    let count = Int.random(in: 1...4, using: &generator)
    var levels = (0..<count).map { _ in alphabet.randomElement(using: &generator)! }
    if Bool.random(using: &generator) {
        levels[count - 1] = "#"
    }
    return levels.joined(separator: "/")
}

/// `#expect` for conditions that call mutating methods, which the macro
/// cannot capture.
func check(
    _ condition: Bool,
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}
