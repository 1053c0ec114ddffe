import Testing

@testable import MQTTServer

@Suite struct DeliveryCreditTests {
    @Test func pausesPastHighAndWakesExactlyOnceAtLow() {
        let credit = DeliveryCredit()
        for _ in 0..<DeliveryCredit.high { credit.acquire() }
        #expect(!credit.isExhausted)
        credit.acquire()
        #expect(credit.isExhausted)
        #expect(credit.pause())
        var wakes = 0
        for _ in 0...DeliveryCredit.high {
            if credit.release() { wakes += 1 }
        }
        #expect(wakes == 1)
    }

    @Test func pauseAfterDrainingDoesNotPause() {
        let credit = DeliveryCredit()
        credit.acquire()
        #expect(credit.release() == false, "nobody is paused")
        #expect(credit.pause() == false, "already drained: the publisher must keep reading")
    }
}
