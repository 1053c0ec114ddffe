import Testing

@testable import MQTTServer

@Suite struct SharedGroupTests {
    private func take(_ group: inout SharedGroup<String, Int>, _ count: Int) -> [String] {
        (0..<count).compactMap { _ in group.next()?.key }
    }

    @Test func emptyGroupHasNoTurn() {
        var group = SharedGroup<String, Int>()
        #expect(group.next() == nil)
        #expect(group.isEmpty)
    }

    @Test func roundRobin() {
        var group = SharedGroup<String, Int>()
        check(group.insert(key: "a", value: 1))
        check(group.insert(key: "b", value: 2))
        check(group.insert(key: "c", value: 3))
        check(!group.insert(key: "b", value: 20))
        #expect(group.count == 3)
        #expect(group.value(key: "b") == 20)
        #expect(self.take(&group, 6) == ["a", "b", "c", "a", "b", "c"])
    }

    @Test func joinerIsServedInTheCurrentRound() {
        var group = SharedGroup<String, Int>()
        group.insert(key: "a", value: 1)
        group.insert(key: "b", value: 2)
        #expect(self.take(&group, 1) == ["a"])
        group.insert(key: "c", value: 3)
        #expect(self.take(&group, 2) == ["b", "c"])
        #expect(self.take(&group, 3) == ["a", "b", "c"])
    }

    @Test func removalSkipsNobodyAndRepeatsNobody() {
        var group = SharedGroup<String, Int>()
        for (index, key) in ["a", "b", "c", "d", "e"].enumerated() {
            group.insert(key: key, value: index)
        }
        #expect(self.take(&group, 2) == ["a", "b"])
        // A served member leaves: c, d, e are still owed this round.
        check(group.remove(key: "a") == 0)
        #expect(Set(self.take(&group, 3)) == ["c", "d", "e"])
        // A new round, then an unserved member leaves.
        let first = self.take(&group, 1)
        let unserved = ["b", "c", "d", "e"].first { !first.contains($0) }!
        check(group.remove(key: unserved) != nil)
        let rest = self.take(&group, 2)
        #expect(Set(first + rest) == Set(["b", "c", "d", "e"]).subtracting([unserved]))
        check(group.remove(key: "zz") == nil)
        #expect(group.count == 3)
    }

    @Test(arguments: [21, 22, 23] as [UInt64])
    func everyRoundServesEachMemberOnce(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var group = SharedGroup<Int, Int>()
        var members = Set<Int>()
        // Members still owed a turn in the current round.
        var owed = Set<Int>()
        for _ in 0..<5000 {
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:
                let key = Int.random(in: 0..<12, using: &generator)
                if group.insert(key: key, value: key) {
                    members.insert(key)
                    owed.insert(key)
                }
            case 1:
                let key = Int.random(in: 0..<12, using: &generator)
                check((group.remove(key: key) != nil) == members.contains(key))
                members.remove(key)
                owed.remove(key)
            default:
                guard let (key, value) = group.next() else {
                    #expect(members.isEmpty)
                    continue
                }
                #expect(key == value)
                if owed.isEmpty {
                    owed = members  // a new round starts
                }
                check(owed.remove(key) != nil, "\(key) served twice in one round")
            }
            #expect(group.count == members.count)
        }
    }

    @Test func isSendableWhenItsParametersAre() {
        func requireSendable<T: Sendable>(_: T.Type) {}
        requireSendable(SharedGroup<String, Int>.self)
    }
}
