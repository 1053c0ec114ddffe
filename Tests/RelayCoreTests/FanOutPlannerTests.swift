import Foundation
import Testing

@testable import RelayCore

@Suite struct FanOutPlannerTests {
    let alice = MemberDevices(user: user("alice"), devices: [device("alice-phone"), device("alice-laptop")])
    let bob = MemberDevices(user: user("bob"), devices: [device("bob-phone"), device("bob-tablet")])
    let shared = Data("shared".utf8)

    func addresses(_ plan: FanOutPlan) -> [String] {
        plan.deliveries.map(\.address.description)
    }

    @Test func sharedCiphertextReachesEveryDeviceButTheSendingOne() throws {
        let message = FanOutMessage(sender: user("alice"), senderDevice: device("alice-phone"), sharedCiphertext: shared)
        let plan = try FanOutPlanner().plan(message, members: [alice, bob])
        #expect(addresses(plan) == ["alice/alice-laptop", "bob/bob-phone", "bob/bob-tablet"])
        #expect(plan.deliveries.allSatisfy { $0.source == .shared && $0.ciphertext == shared })
        #expect(plan.isExact)
        try plan.requireEveryDeviceCovered()
    }

    @Test func perDeviceCiphertextsWinOverTheSharedOne() throws {
        let message = FanOutMessage(
            sender: user("alice"), senderDevice: device("alice-phone"), sharedCiphertext: shared,
            deviceCiphertexts: [device("bob-tablet"): Data("for-tablet".utf8)])
        let plan = try FanOutPlanner().plan(message, members: [alice, bob])
        let tablet = try #require(plan.deliveries.first { $0.address.device == device("bob-tablet") })
        #expect(tablet.source == .device)
        #expect(tablet.ciphertext == Data("for-tablet".utf8))
        let phone = try #require(plan.deliveries.first { $0.address.device == device("bob-phone") })
        #expect(phone.source == .shared)
    }

    @Test func aDeviceWithoutCiphertextIsReportedNotSkipped() throws {
        // Pairwise: the sender forgot bob-tablet (a stale device list) and
        // addressed a device that no longer exists.
        let message = FanOutMessage(
            sender: user("alice"), senderDevice: device("alice-phone"), sharedCiphertext: nil,
            deviceCiphertexts: [
                device("alice-laptop"): Data([1]), device("bob-phone"): Data([2]), device("bob-old"): Data([3]),
                device("alice-phone"): Data([4]),
            ])
        let plan = try FanOutPlanner().plan(message, members: [alice, bob])
        #expect(addresses(plan) == ["alice/alice-laptop", "bob/bob-phone"])
        #expect(plan.devicesWithoutCiphertext == [DeviceAddress(user: user("bob"), device: device("bob-tablet"))])
        #expect(plan.unknownDevices == [device("bob-old")])
        #expect(!plan.isExact)
        #expect(throws: FanOutError.staleDevices(
            missing: [DeviceAddress(user: user("bob"), device: device("bob-tablet"))], unknown: [device("bob-old")])
        ) {
            try plan.requireEveryDeviceCovered()
        }
        let error = FanOutError.staleDevices(missing: [], unknown: [])
        #expect(error.code == .staleDevices && error.reasonCode == 0x83)
    }

    @Test func emptySharedCiphertextCountsAsNone() throws {
        let message = FanOutMessage(sender: user("alice"), senderDevice: device("alice-phone"), sharedCiphertext: Data())
        let plan = try FanOutPlanner().plan(message, members: [alice, bob])
        #expect(plan.deliveries.isEmpty)
        #expect(plan.devicesWithoutCiphertext.count == 3)
    }

    @Test func senderMustBeAMember() {
        let message = FanOutMessage(sender: user("mallory"), senderDevice: device("m1"), sharedCiphertext: shared)
        #expect(throws: FanOutError.senderNotMember) { try FanOutPlanner().plan(message, members: [alice, bob]) }
        #expect(FanOutError.senderNotMember.reasonCode == 0x87)
        #expect(FanOutError.senderNotMember.code == .notMember)
    }

    @Test func duplicatesAreDeliveredOnce() throws {
        let message = FanOutMessage(sender: user("alice"), senderDevice: device("alice-phone"), sharedCiphertext: shared)
        let bobTwice = MemberDevices(user: user("bob"), devices: [device("bob-phone"), device("bob-phone")])
        let plan = try FanOutPlanner().plan(message, members: [alice, bobTwice, bob])
        #expect(addresses(plan) == ["alice/alice-laptop", "bob/bob-phone"])
    }

    @Test func noteToSelfReachesOnlyTheOtherDevices() throws {
        let message = FanOutMessage(sender: user("alice"), senderDevice: device("alice-laptop"), sharedCiphertext: shared)
        let plan = try FanOutPlanner().plan(message, members: [alice])
        #expect(addresses(plan) == ["alice/alice-phone"])
    }

    @Test func groupSizeLimit() throws {
        let members = (0..<1025).map { MemberDevices(user: user("u\($0)"), devices: [device("d\($0)")]) }
        let message = FanOutMessage(sender: user("u0"), senderDevice: device("d0"), sharedCiphertext: shared)
        #expect(throws: FanOutError.groupTooLarge(members: 1025, limit: 1024)) {
            try FanOutPlanner().plan(message, members: members)
        }
        let plan = try FanOutPlanner().plan(message, members: Array(members.prefix(1024)))
        #expect(plan.deliveries.count == 1023)
        let small = FanOutPlanner(limits: MembershipLimits(maximumGroupMembers: 2))
        #expect(throws: FanOutError.groupTooLarge(members: 3, limit: 2)) {
            try small.plan(message, members: Array(members.prefix(3)))
        }
    }

    @Test func devicesPerUserLimit() throws {
        let seven = MemberDevices(user: user("bob"), devices: (1...7).map { device("bob-\($0)") })
        let message = FanOutMessage(sender: user("alice"), senderDevice: device("alice-phone"), sharedCiphertext: shared)
        #expect(throws: FanOutError.tooManyDevices(user: user("bob"), devices: 7, limit: 6)) {
            try FanOutPlanner().plan(message, members: [alice, seven])
        }
        let roomy = FanOutPlanner(limits: MembershipLimits(maximumDevicesPerUser: 7))
        #expect(try roomy.plan(message, members: [alice, seven]).deliveries.count == 8)
        #expect(MembershipLimits().maximumDevicesPerUser == 6)
        #expect(MembershipLimits().maximumGroupMembers == 1024)
    }
}
