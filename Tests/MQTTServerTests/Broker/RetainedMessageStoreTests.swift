import Testing

@testable import MQTTServer

@Suite struct RetainedMessageStoreTests {
    /// Topics of the messages visited for `filter`, sorted.
    private func matches(_ store: RetainedMessageStore<String>, _ filter: String) -> [String] {
        var visited: [String] = []
        store.forEachMatch(filter: filter) { topic, message in
            #expect(message == "m:" + topic)
            visited.append(topic)
        }
        return visited.sorted()
    }

    private func store(_ topics: [String]) -> RetainedMessageStore<String> {
        var store = RetainedMessageStore<String>()
        for topic in topics {
            store.set(topic: topic, message: "m:" + topic)
        }
        return store
    }

    @Test func specExamples() {
        let store = self.store([
            "sport", "sport/tennis/player1", "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon", "sport/tennis/player2", "/finance",
            "$SYS/monitor/Clients", "$SYS", "finance",
        ])
        #expect(
            self.matches(store, "sport/tennis/player1/#") == [
                "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon",
            ])
        #expect(self.matches(store, "sport/tennis/+") == ["sport/tennis/player1", "sport/tennis/player2"])
        #expect(self.matches(store, "sport/#").count == 5)
        #expect(self.matches(store, "+/+") == ["/finance"])
        #expect(self.matches(store, "/+") == ["/finance"])
        #expect(self.matches(store, "+") == ["finance", "sport"])
        #expect(self.matches(store, "+/monitor/Clients").isEmpty)
        #expect(self.matches(store, "$SYS/#") == ["$SYS", "$SYS/monitor/Clients"])
        #expect(self.matches(store, "$SYS/monitor/+") == ["$SYS/monitor/Clients"])
        #expect(self.matches(store, "#").count == 7)
        #expect(!self.matches(store, "#").contains { $0.hasPrefix("$") })
        #expect(self.matches(store, "sport/tennis/player2") == ["sport/tennis/player2"])
        #expect(self.matches(store, "sport/tennis").isEmpty)
    }

    @Test func emptyLevelsAndBytes() {
        let store = self.store(["a//b", "a/b", "a/", "caf\u{E9}"])
        #expect(self.matches(store, "a//b") == ["a//b"])
        #expect(self.matches(store, "a/+/b") == ["a//b"])
        #expect(self.matches(store, "a/+") == ["a/", "a/b"])
        #expect(self.matches(store, "cafe\u{301}").isEmpty)
        #expect(store.message(topic: "cafe\u{301}") == nil)
        #expect(store.message(topic: "caf\u{E9}") == "m:caf\u{E9}")
    }

    @Test func setReplaceRemoveAndPrune() {
        var store = RetainedMessageStore<String>()
        #expect(store.isEmpty)
        store.set(topic: "a/b/c", message: "1")
        store.set(topic: "a/b", message: "2")
        store.set(topic: "a/b/c", message: "3")
        #expect(store.count == 2)
        #expect(store.message(topic: "a/b/c") == "3")
        #expect(store.message(topic: "a") == nil)
        #expect(store.trieNodeCount == 4)

        check(store.remove(topic: "a") == nil)
        check(store.remove(topic: "a/b/c/d") == nil)
        #expect(store.count == 2)
        check(store.remove(topic: "a/b") == "2")
        #expect(store.trieNodeCount == 4)  // a/b still leads to a/b/c
        check(store.remove(topic: "a/b/c") == "3")
        check(store.remove(topic: "a/b/c") == nil)
        #expect(store.count == 0)
        #expect(store.trieNodeCount == 1)

        store.set(topic: "x", message: "4")
        #expect(store.trieNodeCount == 2)
        var visited: [String] = []
        store.forEachMatch(filter: "#") { _, message in visited.append(message) }
        #expect(visited == ["4"])
    }

    @Test func isSendableWhenItsParameterIs() {
        func requireSendable<T: Sendable>(_: T.Type) {}
        requireSendable(RetainedMessageStore<String>.self)
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func matchesLikeTheReference(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var store = RetainedMessageStore<String>()
        var reference: [String: String] = [:]
        for round in 0..<2000 {
            let topic = randomTopic(using: &generator)
            if Int.random(in: 0..<3, using: &generator) == 0 {
                check(store.remove(topic: topic) == reference.removeValue(forKey: topic))
            } else {
                let message = "\(topic)|\(round)"
                store.set(topic: topic, message: message)
                reference[topic] = message
            }
            #expect(store.count == reference.count)

            let filter = randomFilter(using: &generator)
            let expected = reference.filter { referenceMatches(filter: filter, topic: $0.key) }
                .map { "\($0.key)=\($0.value)" }.sorted()
            var actual: [String] = []
            store.forEachMatch(filter: filter) { topic, message in actual.append("\(topic)=\(message)") }
            #expect(actual.sorted() == expected, "filter \(filter), seed \(seed), round \(round)")
        }
        for topic in reference.keys {
            check(store.remove(topic: topic) != nil)
        }
        #expect(store.trieNodeCount == 1)
    }
}
