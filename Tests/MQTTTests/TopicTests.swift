import MQTT
import Testing

@Suite("Topics")
struct TopicTests {
    /// MQTT 5.0 §4.7 examples, and a few more.
    static let matching: [(filter: String, topic: String, matches: Bool)] = [
        // §4.7.1.2 multi-level wildcard
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("sport/#", "sports", false),
        ("#", "sport/tennis", true),
        ("#", "/", true),
        // §4.7.1.3 single-level wildcard
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player2", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+/tennis/#", "sport/tennis", true),
        ("+/tennis/#", "sport/tennis/x/y", true),
        ("sport/+/player1", "sport/tennis/player1", true),
        ("sport/+/player1", "sport//player1", true),
        ("+", "", false),
        // §4.7.2 topics beginning with $
        ("#", "$SYS/broker/clients", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/monitor/Clients", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ("$SYS/#", "$SYS", true),
        ("+", "$SYS", false),
        ("sport/+", "sport/$x", true),
        // §4.7.3 case sensitive, exact, empty levels
        ("ACCOUNTS", "Accounts", false),
        ("Accounts payable", "Accounts payable", true),
        ("/", "/", true),
        ("a//b", "a//b", true),
        ("a//b", "a/b", false),
        ("a/+/b", "a//b", true),
        ("a/b", "a/b/", false),
        ("a/b/", "a/b", false),
        ("a/b/#", "a/b/", true),
        ("a/+", "a/b/c", false),
        ("日本/+", "日本/東京", true),
        // Shared subscriptions match as their filter.
        ("$share/group/sport/+", "sport/tennis", true),
        ("$share/group/#", "a/b", true),
        ("$share/group/#", "$SYS/x", false),
        ("$share/group/a", "b", false),
    ]

    @Test(arguments: matching)
    func matches(filter: String, topic: String, matches: Bool) {
        #expect(MQTTTopic.matches(filter: filter, topic: topic) == matches)
    }

    static let validFilters = [
        "#", "+", "sport/tennis/player1/#", "sport/#", "+/tennis/#", "sport/+/player1", "+/+", "/+", "/", "//",
        "a//b", "/a", "a/", "$SYS/#", "$share/g/#", "$share/g/a/+/c", "$share/consumer1/sport/tennis/+", "$share",
        "$sharex/y", "sport", String(repeating: "a", count: 65_535),
    ]
    static let invalidFilters = [
        "", "sport/tennis#", "sport/tennis/#/ranking", "sport+", "sport/+tennis", "#/", "a/#/", "a#", "+a", "a/b+/c",
        "$share/g", "$share/g/", "$share//x", "$share/g+/x", "$share/g#/x", "$share/",
        "$share/g/sport/tennis#", String(repeating: "a", count: 65_536),
    ]

    @Test(arguments: validFilters)
    func validFilter(_ filter: String) throws {
        try MQTTTopic.validateFilter(filter)
    }

    @Test(arguments: invalidFilters)
    func invalidFilter(_ filter: String) {
        do {
            try MQTTTopic.validateFilter(filter)
            Issue.record("accepted \(filter.prefix(40))")
        } catch {
            #expect(error.kind == .topicFilterInvalid)
        }
    }

    @Test func names() throws {
        for name in ["a", "/", "a//b", "/a", "sport/tennis/player1", "$SYS/x", "日本", " "] {
            try MQTTTopic.validateName(name)
        }
        for name in ["", "a/+", "#", "a/#", "sport+", String(repeating: "a", count: 65_536)] {
            do {
                try MQTTTopic.validateName(name)
                Issue.record("accepted \(name.prefix(40))")
            } catch {
                #expect(error.kind == .topicNameInvalid)
            }
        }
    }

    @Test func sharedSubscription() {
        #expect(MQTTTopic.sharedSubscription("$share/g/a/b")! == ("g", "a/b"))
        #expect(MQTTTopic.sharedSubscription("$share/consumer1/sport/tennis/+")! == ("consumer1", "sport/tennis/+"))
        #expect(MQTTTopic.sharedSubscription("$share/g/#")! == ("g", "#"))
        #expect(MQTTTopic.sharedSubscription("$share/g//")! == ("g", "/"))
        #expect(MQTTTopic.sharedSubscription("$share/g") == nil)
        #expect(MQTTTopic.sharedSubscription("$share/g/") == nil)
        #expect(MQTTTopic.sharedSubscription("$share//x") == nil)
        #expect(MQTTTopic.sharedSubscription("a/b") == nil)
        #expect(MQTTTopic.sharedSubscription("$SYS/x") == nil)
        #expect(MQTTTopic.sharedSubscription("$sharex/g/a") == nil)
    }
}
