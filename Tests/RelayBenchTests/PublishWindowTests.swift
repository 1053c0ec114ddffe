import Testing

@testable import RelayBench

@Suite struct PublishWindowTests {
    @Test func qos1WindowOpensOnPubAck() {
        var w = PublishWindow(limit: 2, qos1: true)
        let a = w.take()
        let b = w.take()
        #expect(a == 1 && b == 2)
        #expect(!w.isOpen)
        let released = w.acknowledged(2)
        #expect(released)
        #expect(w.isOpen)
        let third = w.take()
        #expect(third == 3)
        let again = w.acknowledged(2)
        #expect(!again)  // already released
        let zero = w.acknowledged(0)
        #expect(!zero)
        #expect(w.unexpectedAcks == 2)
        #expect(w.acknowledgedCount == 1)
        #expect(w.inFlight == 2)
    }

    @Test func packetIdentifiersWrapAndSkipOutstanding() {
        var w = PublishWindow(limit: 3, qos1: true)
        _ = w.take()  // 1 stays outstanding
        for _ in 0..<(65_535 - 1) {
            let id = w.take()!
            w.acknowledged(id)
        }
        // Wrapped past 65,535; 1 is still outstanding, so the next is 2.
        let afterWrap = w.take()
        #expect(afterWrap == 2)
    }

    @Test func qos0WindowOpensOnDelivery() {
        var w = PublishWindow(limit: 1, qos1: false)
        let identifier = w.take()
        #expect(identifier == nil)
        #expect(!w.isOpen)
        w.delivered()
        #expect(w.isOpen)
        w.delivered()  // never below zero
        #expect(w.inFlight == 0)
    }

    @Test func aNewPhaseForgetsUndeliveredQoS0MessagesOnly() {
        var qos0 = PublishWindow(limit: 2, qos1: false)
        _ = qos0.take()
        qos0.forgetUndelivered()
        #expect(qos0.inFlight == 0)
        var qos1 = PublishWindow(limit: 2, qos1: true)
        _ = qos1.take()
        qos1.forgetUndelivered()
        #expect(qos1.inFlight == 1)
    }

    @Test func refillWaitsForAQuarterOfTheWindow() {
        var w = PublishWindow(limit: 8, qos1: false)
        for _ in 0..<8 { _ = w.take() }
        w.delivered()
        #expect(!w.isWorthRefilling)
        w.delivered()
        #expect(w.isWorthRefilling)
        var one = PublishWindow(limit: 1, qos1: false)
        _ = one.take()
        one.delivered()
        #expect(one.isWorthRefilling)
    }

    @Test func clampToReceiveMaximum() {
        var w = PublishWindow(limit: 64, qos1: true)
        w.clamp(to: 20)
        #expect(w.limit == 20)
        w.clamp(to: 0)
        #expect(w.limit == 1)
    }
}

@Suite struct SequenceTrackerTests {
    @Test func countsOrderAndLateMessages() {
        var t = SequenceTracker()
        t.reset(firstSequence: 10)
        let earlierPhase = t.record(sequence: 9, sentAt: 0, now: 5)
        #expect(!earlierPhase)  // from an earlier phase
        let first = t.record(sequence: 10, sentAt: 100, now: 150)
        #expect(first)
        let afterGap = t.record(sequence: 12, sentAt: 100, now: 300)
        #expect(afterGap)  // 11 skipped
        let late = t.record(sequence: 11, sentAt: 100, now: 400)
        #expect(late)  // late: out of order
        let clockSkew = t.record(sequence: 13, sentAt: 500, now: 400)
        #expect(clockSkew)  // clock never goes back; counts as 0
        #expect(t.received == 4)
        #expect(t.outOfOrder == 1)
        #expect(t.stale == 1)
        #expect(t.latency.min == 0)
        #expect(t.latency.max == 300)
    }
}
