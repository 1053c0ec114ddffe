import Testing

@testable import RelayBench

@Suite struct SendPacerTests {
    @Test func oneAtTheStartThenOnePerInterval() {
        let pacer = SendPacer(rate: 100, start: 1_000)  // every 10 ms
        #expect(pacer.due(at: 999) == 0)
        #expect(pacer.due(at: 1_000) == 1)
        #expect(pacer.due(at: 1_000 + 9_999_999) == 1)
        #expect(pacer.due(at: 1_000 + 10_000_000) == 2)
        #expect(pacer.due(at: 1_000 + 1_000_000_000) == 101)
    }

    @Test func sendsWhatIsDueUpToTheRoomLeft() {
        let pacer = SendPacer(rate: 1_000, start: 0)  // every 1 ms
        #expect(pacer.toSend(at: 9_500_000, sent: 0, room: 64) == 10)
        #expect(pacer.toSend(at: 9_500_000, sent: 4, room: 64) == 6)
        #expect(pacer.toSend(at: 9_500_000, sent: 4, room: 3) == 3)
        #expect(pacer.toSend(at: 9_500_000, sent: 10, room: 64) == 0)
        #expect(pacer.toSend(at: 9_500_000, sent: 0, room: 0) == 0)
        #expect(pacer.toSend(at: 9_500_000, sent: 0, room: -2) == 0)
    }
}
