import Testing

@testable import MQTTServer

@Suite struct TopicTreeTests {
    /// Every (key, value) visited for `topic`, sorted, one entry per visit.
    private func matches(_ tree: TopicTree<String, String>, _ topic: String) -> [String] {
        var visited: [String] = []
        tree.forEachMatch(topic: topic) { key, value in visited.append("\(key)=\(value)") }
        return visited.sorted()
    }

    /// True when a tree holding only `filter` matches `topic`.
    private func filter(_ filter: String, matches topic: String) -> Bool {
        var tree = TopicTree<String, String>()
        tree.insert(filter: filter, key: "k", value: filter)
        let visited = self.matches(tree, topic)
        #expect(visited.count <= 1)
        return visited == ["k=\(filter)"]
    }

    // MARK: MQTT 5.0 §4.7 examples

    @Test func multiLevelWildcardExamples() {
        // §4.7.1.2
        #expect(self.filter("sport/tennis/player1/#", matches: "sport/tennis/player1"))
        #expect(self.filter("sport/tennis/player1/#", matches: "sport/tennis/player1/ranking"))
        #expect(self.filter("sport/tennis/player1/#", matches: "sport/tennis/player1/score/wimbledon"))
        #expect(!self.filter("sport/tennis/player1/#", matches: "sport/tennis/player2"))
        #expect(!self.filter("sport/tennis/player1/#", matches: "sport/tennis"))
        #expect(self.filter("sport/#", matches: "sport"))
        #expect(self.filter("#", matches: "sport/tennis"))
        #expect(self.filter("#", matches: "/"))
        #expect(self.filter("#", matches: "a"))
    }

    @Test func singleLevelWildcardExamples() {
        // §4.7.1.3
        #expect(self.filter("sport/tennis/+", matches: "sport/tennis/player1"))
        #expect(self.filter("sport/tennis/+", matches: "sport/tennis/player2"))
        #expect(!self.filter("sport/tennis/+", matches: "sport/tennis/player1/ranking"))
        #expect(self.filter("sport/+", matches: "sport/"))
        #expect(!self.filter("sport/+", matches: "sport"))
        #expect(self.filter("+/+", matches: "/finance"))
        #expect(self.filter("/+", matches: "/finance"))
        #expect(!self.filter("+", matches: "/finance"))
        #expect(self.filter("+/tennis/#", matches: "sport/tennis"))
        #expect(self.filter("+/tennis/#", matches: "sport/tennis/player1/ranking"))
        #expect(self.filter("a/+/#", matches: "a/b"))
        #expect(!self.filter("a/+/#", matches: "a"))
    }

    @Test func dollarTopicsAreHiddenFromLeadingWildcards() {
        // §4.7.2
        #expect(!self.filter("#", matches: "$SYS/x"))
        #expect(!self.filter("#", matches: "$SYS"))
        #expect(!self.filter("+", matches: "$SYS"))
        #expect(!self.filter("+/monitor/Clients", matches: "$SYS/monitor/Clients"))
        #expect(self.filter("$SYS/#", matches: "$SYS/x"))
        #expect(self.filter("$SYS/#", matches: "$SYS"))
        #expect(self.filter("$SYS/monitor/+", matches: "$SYS/monitor/Clients"))
        #expect(self.filter("$SYS/monitor/Clients", matches: "$SYS/monitor/Clients"))
        // Only the first level counts.
        #expect(self.filter("a/+", matches: "a/$b"))
        #expect(self.filter("a/#", matches: "a/$b/c"))
        #expect(self.filter("+", matches: "x$"))
    }

    @Test func emptyLevels() {
        #expect(self.filter("a//b", matches: "a//b"))
        #expect(!self.filter("a//b", matches: "a/b"))
        #expect(self.filter("a/+/b", matches: "a//b"))
        #expect(self.filter("a/#", matches: "a//b"))
        #expect(self.filter("/", matches: "/"))
        #expect(self.filter("+/+", matches: "/"))
        #expect(!self.filter("+", matches: "/"))
        #expect(self.filter("a/", matches: "a/"))
        #expect(!self.filter("a/", matches: "a"))
        #expect(self.filter("a/+", matches: "a/"))
    }

    @Test func levelsCompareByBytesWithoutNormalization() {
        // U+00E9 and e + U+0301 are canonically equivalent Strings but
        // different topics (§4.7.3).
        let composed = "caf\u{E9}/x"
        let decomposed = "cafe\u{301}/x"
        #expect(composed == decomposed)
        #expect(self.filter(composed, matches: composed))
        #expect(!self.filter(composed, matches: decomposed))
        #expect(!self.filter("caf\u{E9}/+", matches: decomposed))
        #expect(self.filter("+/x", matches: decomposed))
        #expect(self.filter("a/+", matches: "a/\u{301}"))
        #expect(!self.filter("a", matches: "A"))
    }

    @Test func literalLevelsContainingWildcardCharacters() {
        // Invalid filters, but the tree must stay consistent with them.
        #expect(self.filter("a+/b", matches: "a+/b"))
        #expect(!self.filter("a+/b", matches: "ax/b"))
    }

    // MARK: insert, replace, remove

    @Test func insertReplaceAndCount() {
        var tree = TopicTree<String, Int>()
        #expect(tree.isEmpty)
        check(tree.insert(filter: "a/b", key: "s1", value: 1))
        check(tree.insert(filter: "a/+", key: "s1", value: 2))
        check(tree.insert(filter: "a/b", key: "s2", value: 3))
        #expect(tree.count == 3)
        check(!tree.insert(filter: "a/b", key: "s1", value: 10))
        check(!tree.insert(filter: "a/+", key: "s1", value: 20))
        #expect(tree.count == 3)
        #expect(tree.value(filter: "a/b", key: "s1") == 10)
        #expect(tree.value(filter: "a/+", key: "s1") == 20)
        #expect(tree.value(filter: "a/+", key: "s2") == nil)
        #expect(tree.value(filter: "a/#", key: "s1") == nil)
        #expect(tree.value(filter: "a", key: "s1") == nil)
    }

    @Test func overlappingFiltersVisitAKeyOncePerFilter() {
        var tree = TopicTree<String, String>()
        tree.insert(filter: "a/b", key: "s1", value: "exact")
        tree.insert(filter: "a/+", key: "s1", value: "plus")
        tree.insert(filter: "a/#", key: "s1", value: "hash")
        tree.insert(filter: "#", key: "s1", value: "all")
        tree.insert(filter: "a/c", key: "s2", value: "other")
        #expect(self.matches(tree, "a/b") == ["s1=all", "s1=exact", "s1=hash", "s1=plus"])
        #expect(self.matches(tree, "a") == ["s1=all", "s1=hash"])
        #expect(self.matches(tree, "a/c") == ["s1=all", "s1=hash", "s1=plus", "s2=other"])
        #expect(self.matches(tree, "b").isEmpty == false)
        #expect(self.matches(tree, "$SYS/a").isEmpty)
    }

    @Test func removeReturnsValueAndPrunes() {
        var tree = TopicTree<String, Int>()
        #expect(tree.trieNodeCount == 1)
        tree.insert(filter: "a/+/c/#", key: "s1", value: 1)
        tree.insert(filter: "a/+/d", key: "s2", value: 2)
        tree.insert(filter: "a/b", key: "s3", value: 3)
        tree.insert(filter: "+", key: "s4", value: 4)
        #expect(tree.trieNodeCount == 7)  // root, a, +, c, #, d, root.+

        check(tree.remove(filter: "a/+/c/#", key: "nobody") == nil)
        check(tree.remove(filter: "a/+/c", key: "s1") == nil)
        check(tree.remove(filter: "x/+", key: "s1") == nil)
        check(tree.remove(filter: "a/c", key: "s3") == nil)
        #expect(tree.count == 4)

        check(tree.remove(filter: "a/+/c/#", key: "s1") == 1)
        #expect(tree.count == 3)
        #expect(tree.trieNodeCount == 5)  // c and # pruned
        check(tree.remove(filter: "a/+/c/#", key: "s1") == nil)

        check(tree.remove(filter: "a/b", key: "s3") == 3)
        check(tree.remove(filter: "a/+/d", key: "s2") == 2)
        #expect(tree.trieNodeCount == 2)
        check(tree.remove(filter: "+", key: "s4") == 4)
        #expect(tree.trieNodeCount == 1)
        #expect(tree.count == 0)
        #expect(tree.isEmpty)

        // Freed slots are reused.
        tree.insert(filter: "x/+/y", key: "s1", value: 1)
        #expect(tree.trieNodeCount == 4)
        var visited: [Int] = []
        tree.forEachMatch(topic: "x/1/y") { _, value in visited.append(value) }
        #expect(visited == [1])
    }

    @Test func removingOneKeyKeepsTheOthers() {
        var tree = TopicTree<Int, Int>()
        for key in 0..<10 {
            tree.insert(filter: "a/+", key: key, value: key)
            tree.insert(filter: "a/b", key: key, value: key)
        }
        check(tree.remove(filter: "a/+", key: 3) == 3)
        check(tree.remove(filter: "a/b", key: 4) == 4)
        var visited: [Int] = []
        tree.forEachMatch(topic: "a/b") { key, _ in visited.append(key) }
        #expect(visited.count == 18)
        #expect(visited.filter { $0 == 3 } == [3])
        #expect(visited.filter { $0 == 4 } == [4])
        #expect(tree.count == 18)
    }

    @Test func copiesAreIndependent() {
        var original = TopicTree<String, Int>()
        original.insert(filter: "a/+", key: "s", value: 1)
        var copy = original
        copy.insert(filter: "a/+", key: "t", value: 2)
        copy.remove(filter: "a/+", key: "s")
        #expect(original.value(filter: "a/+", key: "s") == 1)
        #expect(original.value(filter: "a/+", key: "t") == nil)
        #expect(original.count == 1)
        #expect(copy.count == 1)
    }

    @Test func deepTopicsDoNotRecurse() {
        let deep = String(repeating: "/", count: 60_000)
        var tree = TopicTree<String, String>()
        tree.insert(filter: deep + "#", key: "s", value: "deep")
        tree.insert(filter: "#", key: "t", value: "all")
        #expect(self.matches(tree, deep + "x") == ["s=deep", "t=all"])
        check(tree.remove(filter: deep + "#", key: "s") == "deep")
        #expect(tree.trieNodeCount == 2)
    }

    @Test func isSendableWhenItsParametersAre() {
        func requireSendable<T: Sendable>(_: T.Type) {}
        requireSendable(TopicTree<String, Int>.self)
    }

    // MARK: against the reference matcher

    @Test(arguments: [1, 2, 3] as [UInt64])
    func matchesLikeTheReference(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var tree = TopicTree<Int, String>()
        var reference: [String: [Int: String]] = [:]  // filter -> key -> value

        for round in 0..<2000 {
            let filter = randomFilter(using: &generator)
            let key = Int.random(in: 0..<4, using: &generator)
            if Int.random(in: 0..<3, using: &generator) == 0 {
                let expected = reference[filter]?.removeValue(forKey: key)
                check(tree.remove(filter: filter, key: key) == expected)
            } else {
                let value = "\(filter)|\(key)|\(round)"
                let isNew = reference[filter, default: [:]].updateValue(value, forKey: key) == nil
                check(tree.insert(filter: filter, key: key, value: value) == isNew)
            }
            #expect(tree.count == reference.values.reduce(0) { $0 + $1.count })

            let topic = randomTopic(using: &generator)
            var expected: [String] = []
            for (filter, subscribers) in reference where referenceMatches(filter: filter, topic: topic) {
                expected.append(contentsOf: subscribers.values)
            }
            var actual: [String] = []
            tree.forEachMatch(topic: topic) { key, value in
                #expect(value.contains("|\(key)|"))
                actual.append(value)
            }
            #expect(actual.sorted() == expected.sorted(), "topic \(topic), seed \(seed), round \(round)")
        }

        // Emptying the tree prunes every node.
        for (filter, subscribers) in reference {
            for key in subscribers.keys {
                check(tree.remove(filter: filter, key: key) != nil)
            }
        }
        #expect(tree.count == 0)
        #expect(tree.trieNodeCount == 1)
    }
}
