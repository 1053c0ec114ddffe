@testable import RelayDrill
import Testing

/// The drill's checker counts what the devices received: RPO, duplicates,
/// order and RTO from a hand-made ledger.
@Suite struct DrillCheckerTests {
    /// Device 0 (home: the drilled region) talks to device 1; the kill is at 1000 ms.
    private func ledger(_ build: (DrillLedger) -> Void) -> DrillLedger.Book {
        let ledger = DrillLedger()
        build(ledger)
        return ledger.snapshot
    }

    private func send(_ ledger: DrillLedger, _ id: String, from sender: Int = 0, composed: Double, acked: Double?) -> Int {
        let index = ledger.compose(id: id, sender: sender, recipient: 1 - sender, conversation: "a~b", at: composed)
        ledger.published(index, at: composed)
        if let acked { ledger.acknowledged(index, reasonCode: 0, at: acked) }
        return index
    }

    private func deliver(_ ledger: DrillLedger, _ id: String, to device: Int = 1, epoch: UInt32 = 1, seq: UInt64, at ms: Double) {
        ledger.received(.init(device: device, conversation: "a~b", epoch: epoch, seq: seq, clientMessageID: id, arrivalMs: ms))
    }

    @Test func countsLossBeforeTheKillInMessagesAndMilliseconds() {
        let book = ledger { l in
            _ = send(l, "m1", composed: 100, acked: 200)
            _ = send(l, "m2", composed: 300, acked: 400)
            _ = send(l, "m3", composed: 500, acked: 600)
            deliver(l, "m2", seq: 2, at: 450)
        }
        let figures = DrillChecker(regionDevices: [0], killMs: 1000).figures(of: book)
        #expect(figures.ackedBeforeKill == 3)
        #expect(figures.rpoMessages == 2)
        #expect(figures.rpoMs == 800)
        #expect(figures.lostAcknowledged == 2)
        #expect(figures.lost.map(\.id) == ["m1", "m3"])
        #expect(figures.delivered == 1)
    }

    @Test func countsDuplicatesAndOutOfOrderAsReceived() {
        let book = ledger { l in
            _ = send(l, "m1", composed: 100, acked: 150)
            _ = send(l, "m2", composed: 200, acked: 250)
            deliver(l, "m1", seq: 1, at: 300)
            deliver(l, "m2", seq: 2, at: 310)
            deliver(l, "m1", seq: 1, at: 320)  // again: a duplicate, and behind seq 2
            deliver(l, "m2", epoch: 2, seq: 1, at: 330)  // a new epoch is ahead of any seq of the old one
        }
        let figures = DrillChecker(regionDevices: [0], killMs: 1000).figures(of: book)
        #expect(figures.duplicates == 2)
        #expect(figures.outOfOrder == 1)
        #expect(figures.rpoMessages == 0)
        #expect(figures.deliveries == 4 && figures.delivered == 2)
    }

    @Test func rtoIsFromTheKillToTheFirstPostKillMessageOfTheRegionDelivered() {
        let book = ledger { l in
            _ = send(l, "before", composed: 900, acked: 1500)
            _ = send(l, "other-region", from: 1, composed: 1100, acked: 1150)
            _ = send(l, "after", composed: 1200, acked: 1800)
            _ = send(l, "unacked", composed: 1300, acked: nil)
            deliver(l, "before", seq: 1, at: 1600)
            deliver(l, "other-region", to: 0, seq: 2, at: 1160)
            deliver(l, "after", seq: 3, at: 1900)
        }
        let figures = DrillChecker(regionDevices: [0], killMs: 1000).figures(of: book)
        #expect(figures.rtoMs == 900)
        #expect(figures.unacknowledged == 1)
        #expect(figures.acked == 3 && figures.sent == 4 && figures.published == 4)
    }

    @Test func aDeliveryToTheWrongDeviceIsNotADelivery() {
        let book = ledger { l in
            _ = send(l, "m1", composed: 100, acked: 200)
            deliver(l, "m1", to: 0, seq: 1, at: 300)
        }
        let figures = DrillChecker(regionDevices: [0], killMs: 1000).figures(of: book)
        #expect(figures.delivered == 0 && figures.rpoMessages == 1)
    }
}
