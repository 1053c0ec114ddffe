import Testing

@testable import MQTTServer

@Suite struct DeliveryCreditTests {
    @Test func pausesPastHighAndWakesExactlyOnceAtLow() {
        let credit = DeliveryCredit()
        for _ in 0..<DeliveryCredit.high { credit.acquire() }
        var exhausted = credit.isExhausted
        #expect(!exhausted)
        credit.acquire()
        exhausted = credit.isExhausted
        #expect(exhausted)
        let paused = credit.pause()
        #expect(paused)
        var wakes = 0
        for _ in 0...DeliveryCredit.high {
            if credit.release() { wakes += 1 }
        }
        #expect(wakes == 1)
    }

    @Test func pauseAfterDrainingDoesNotPause() {
        let credit = DeliveryCredit()
        credit.acquire()
        let woke = credit.release()
        #expect(woke == false, "nobody is paused")
        let paused = credit.pause()
        #expect(paused == false, "already drained: the publisher must keep reading")
    }
}
