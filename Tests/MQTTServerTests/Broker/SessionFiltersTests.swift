import Testing

@testable import MQTTServer

@Suite struct SessionFiltersTests {
    @Test func oneFilterNeedsNoSetAndSeveralBehaveAsASet() {
        var filters = InMemoryRouter.SessionFilters.one("a/#")
        filters.insert("a/#")
        guard case .one("a/#") = filters else {
            Issue.record("the same filter again made \(filters)")
            return
        }
        filters.insert("b/+")
        filters.insert("c")
        #expect(Set(filters.all) == ["a/#", "b/+", "c"])
        var left = filters.remove("b/+")
        #expect(left)
        left = filters.remove("nope")
        #expect(left)
        #expect(Set(filters.all) == ["a/#", "c"])
        _ = filters.remove("a/#")
        left = filters.remove("c")
        #expect(!left)

        var single = InMemoryRouter.SessionFilters.one("x")
        left = single.remove("y")
        #expect(left, "another filter: x stays")
        left = single.remove("x")
        #expect(!left)
    }
}
