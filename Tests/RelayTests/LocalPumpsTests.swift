@testable import RelayChat
import Testing

/// The per-user record of the devices connected to this node.
@Suite struct LocalPumpsTests {
    typealias Devices = LocalPumps.UserDevices

    @Test func oneDeviceNeedsNoSetAndTheLastRemovedLeavesNothing() {
        let phone = Devices.one("phone")
        #expect(phone.inserting("phone") == .one("phone"))
        let both = phone.inserting("laptop")
        #expect(both == .many(["phone", "laptop"]))
        #expect(Set(both.all) == ["phone", "laptop"])
        #expect(both.removing("phone") == .one("laptop"))
        #expect(both.removing("tablet") == both)
        #expect(phone.removing("laptop") == phone)
        #expect(phone.removing("phone") == nil)
        #expect(Devices.many(["phone", "laptop", "tablet"]).removing("tablet") == .many(["phone", "laptop"]))
    }
}
