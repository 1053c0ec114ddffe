import Testing

@testable import RelayCore

@Suite struct DeviceTopicTests {
    @Test func parsesTheFourUpstreamTopics() throws {
        let direct = ConversationID.direct(user("alice"), user("bob"))
        #expect(try DeviceTopic(parsing: "s/alice~bob") == .send(direct))
        #expect(try DeviceTopic(parsing: "r/alice~bob") == .receipt(direct))
        #expect(try DeviceTopic(parsing: "t/g123") == .typing(group("g123")))
        #expect(try DeviceTopic(parsing: "q/group.create") == .request(method: "group.create"))
        #expect(try DeviceTopic(parsing: "t/g1").qos == 0)
        #expect(try DeviceTopic(parsing: "s/g1").qos == 1)
    }

    @Test func refusesOtherTopics() {
        for topic in ["", "s", "x/g1", "d/alice-phone/m", "$SYS/x", "s", "sg1", "/s/g1", "S/g1"] {
            #expect(throws: TopicRefusal.notPermitted, "\(topic)") { try DeviceTopic(parsing: topic) }
        }
        #expect(TopicRefusal.notPermitted.reasonCode == 0x87)
        #expect(TopicRefusal.notPermitted.code == .forbiddenTopic)
    }

    @Test func refusesMalformedConversationsAndMethods() {
        #expect(throws: TopicRefusal.invalidConversation(.usersNotSorted)) { try DeviceTopic(parsing: "s/bob~alice") }
        #expect(throws: TopicRefusal.invalidConversation(.notAConversation)) { try DeviceTopic(parsing: "s/") }
        #expect(throws: TopicRefusal.invalidConversation(.invalidPart(.invalidByte(.group, byte: UInt8(ascii: "/"), offset: 2)))) {
            try DeviceTopic(parsing: "r/g1/extra")
        }
        #expect(throws: TopicRefusal.invalidMethod) { try DeviceTopic(parsing: "q/") }
        #expect(throws: TopicRefusal.invalidMethod) { try DeviceTopic(parsing: "q/a/b") }
        #expect(throws: TopicRefusal.invalidMethod) { try DeviceTopic(parsing: "q/" + String(repeating: "m", count: 65)) }
        #expect(TopicRefusal.invalidMethod.reasonCode == 0x90)
        #expect(TopicRefusal.invalidMethod.code == .badRequest)
    }

    @Test func knownRequestMethodsParse() throws {
        for method in RequestMethod.allCases {
            #expect(try DeviceTopic(parsing: "q/" + method.rawValue) == .request(method: method.rawValue))
        }
        #expect(RequestMethod(rawValue: "history.sync") == .historySync)
    }

    @Test func buildsOutboundTopics() {
        let phone = device("alice-phone")
        #expect(phone.topic(.messages) == "d/alice-phone/m")
        #expect(phone.topic(.status) == "d/alice-phone/s")
        #expect(phone.topic(.presence) == "d/alice-phone/p")
        #expect(phone.topic(.typing) == "d/alice-phone/t")
        #expect(phone.topic(.answers) == "d/alice-phone/a")
        #expect(phone.topic(.events) == "d/alice-phone/e")
        #expect(phone.subscriptionFilter == "d/alice-phone/#")
        #expect(DeviceChannel.presence.qos == 0 && DeviceChannel.typing.qos == 0)
        #expect(DeviceChannel.messages.qos == 1 && DeviceChannel.events.qos == 1)
    }

    @Test func subscriptionsStayWithinTheDevicesOwnTopics() throws {
        let phone = device("alice-phone")
        #expect(try DeviceSubscription(filter: "d/alice-phone/#", device: phone) == .all)
        #expect(try DeviceSubscription(filter: "d/alice-phone/+", device: phone) == .all)
        #expect(try DeviceSubscription(filter: "d/alice-phone/m", device: phone) == .channel(.messages))
        #expect(try DeviceSubscription(filter: "d/alice-phone/#", device: phone).channels.count == 6)
        for filter in [
            "d/bob-phone/#", "d/alice-phone", "d/alice-phone/", "d/alice-phone/x", "d/alice-phone/m/x",
            "d/+/#", "#", "d/alice-phone/##", "$share/g/d/alice-phone/#", "d/alice-phone2/#", "d/alice-phon/#",
        ] {
            #expect(!DeviceSubscription.isPermitted(filter: filter, device: phone), "\(filter)")
        }
        #expect(throws: SubscriptionRefusal.notOwnTopics) { try DeviceSubscription(filter: "d/bob/#", device: phone) }
        #expect(SubscriptionRefusal.notOwnTopics.reasonCode == 0x87)
    }
}
