@testable import RelayChat
import Testing

/// The delivery decisions of one device's pump, event by event
/// (decision 0008 for offers), without a store or a session.
@Suite struct DevicePumpMachineTests {
    typealias Machine = DevicePumpMachine

    /// A machine that has read once: cursors as given, nothing in flight.
    func settled(window: Int = 4, cursors: [String: UInt64] = ["c": 5], queueCounter: Int = 10) -> Machine {
        var m = Machine(window: window)
        let read = m.wake()!
        _ = m.readCompleted(read, .init(queueCounter: queueCounter, cursors: cursors))
        return m
    }

    @Test func aWakeStartsOneReadWithTheWindowsRoom() throws {
        var m = Machine(window: 3)
        let v1 = m.wake()
        let read = try #require(v1)
        #expect(read == .init(queuePosition: 0, handed: [:], room: 3))
        // A second wake-up during the read does not start another; the read says "again".
        let v2 = m.wake()
        #expect(v2 == nil)
        let v3 = m.readCompleted(read, .init(cursors: ["c": 2]))
        #expect(v3)
        #expect(m.next(in: "c") == 2)
    }

    @Test func aReadThatFillsItsRoomReadsAgainAndCountsInFlight() throws {
        var m = Machine(window: 2)
        let v4 = m.wake()
        let read = try #require(v4)
        let v5 = m.readCompleted(read, .init(queuePositions: [1], messages: [("c", 3)]))
        #expect(v5)
        #expect(m.inflight == 2 && m.queuePosition == 1 && m.next(in: "c") == 3)
        // The window is full: a wake-up waits for room, and the first acknowledgement brings the read.
        let v6 = m.wake()
        #expect(v6 == nil)
        m.entryFinished()
        let v7 = m.takeBehind()
        #expect(v7)
        let v8 = m.takeBehind()
        #expect(!v8)
        let v9 = m.wake()
        #expect(v9?.room == 1)
    }

    @Test func theCursorMovesOnlyOverTheAcknowledgedPrefix() throws {
        var m = Machine(window: 8)
        let v10 = m.wake()
        let read = try #require(v10)
        _ = m.readCompleted(read, .init(cursors: ["c": 5], messages: [("c", 6), ("c", 7), ("c", 8)]))
        // 7 and 8 acknowledged before 6: the cursor waits for 6, then jumps to 8.
        let v11 = m.messageFinished(conversation: "c", seq: 7)
        #expect(v11 == nil)
        let v12 = m.messageFinished(conversation: "c", seq: 8)
        #expect(v12 == nil)
        let v13 = m.messageFinished(conversation: "c", seq: 6)
        #expect(v13 == 8)
        #expect(m.inflight == 0)
    }

    @Test func anOfferIsHandedOverOnlyWhenItIsExactlyNext() {
        var m = settled()
        let v14 = m.offered(conversation: "c", seq: 6, own: false)
        #expect(v14 == .deliver)
        #expect(m.inflight == 1 && m.next(in: "c") == 6)
        // Again, or older: nothing. A gap, or an unknown conversation: read.
        let v15 = m.offered(conversation: "c", seq: 6, own: false)
        #expect(v15 == Machine.Offer.none)
        let v16 = m.offered(conversation: "c", seq: 9, own: false)
        #expect(v16 == .read)
        let v17 = m.offered(conversation: "d", seq: 1, own: false)
        #expect(v17 == .read)
        // The device's own message is stepped over, not sent back.
        let v18 = m.offered(conversation: "c", seq: 7, own: true)
        #expect(v18 == Machine.Offer.none)
        #expect(m.next(in: "c") == 7 && m.inflight == 1)
        let v19 = m.offered(conversation: "c", seq: 8, own: false)
        #expect(v19 == .deliver)
    }

    /// Decision 0008: an offer during a read must not overtake the messages
    /// the read brings (the first version of the hand-off reordered them).
    @Test func anOfferDuringAReadWaitsForItThenReadsAgain() throws {
        var m = settled()
        let v20 = m.wake()
        let read = try #require(v20)
        let v21 = m.offered(conversation: "c", seq: 7, own: false)
        #expect(v21 == Machine.Offer.none)
        let v22 = m.offered(queuePosition: 11)
        #expect(v22 == Machine.Offer.none)
        // The read brought 6 (not 7): it must read again, and 7 goes out after 6.
        let v23 = m.readCompleted(read, .init(queueCounter: 10, cursors: ["c": 5], messages: [("c", 6)]))
        #expect(v23)
        #expect(m.next(in: "c") == 6)
        let v24 = m.offered(conversation: "c", seq: 7, own: false)
        #expect(v24 == .deliver)
    }

    @Test func aFullWindowHoldsOffersUntilRoomIsFreed() {
        var m = settled(window: 1)
        let v25 = m.offered(conversation: "c", seq: 6, own: false)
        #expect(v25 == .deliver)
        let v26 = m.offered(conversation: "c", seq: 7, own: false)
        #expect(v26 == Machine.Offer.none)
        let v27 = m.messageFinished(conversation: "c", seq: 6)
        #expect(v27 == 6)
        let v28 = m.takeBehind()
        #expect(v28)  // the pump reads and finds 7
    }

    @Test func queueOffersNeedTheCounterAndTheNextPosition() {
        var fresh = Machine(window: 4)
        // Before any read the counter is unknown: read.
        let v29 = fresh.offered(queuePosition: 1)
        #expect(v29 == .read)
        var m = settled(queueCounter: 10)
        let v30 = m.offered(queuePosition: 12)
        #expect(v30 == .read)
        let v31 = m.offered(queuePosition: 11)
        #expect(v31 == .deliver)
        #expect(m.queuePosition == 11)
        let v32 = m.offered(queuePosition: 11)
        #expect(v32 == Machine.Offer.none)
        let v33 = m.queueNoticed(upTo: 11)
        let v34 = m.queueNoticed(upTo: 12)
        #expect(!v33 && v34)
    }

    /// The queue's notice of an entry this node wrote can beat the write's
    /// reply: it waits for the offer instead of reading the store for it.
    @Test func aNoticeAheadOfThisNodesOwnEnqueueWaitsForTheOffer() {
        var m = settled(queueCounter: 10)
        m.enqueueStarted()
        let noticed = m.queueNoticed(upTo: 11)
        #expect(!noticed)
        let offer = m.offered(queuePosition: 11)
        #expect(offer == .deliver)
        let read = m.enqueueEnded()
        #expect(!read)  // the offer brought what the notice named
    }

    /// A notice naming more than this node's enqueues brought (another
    /// node wrote too), or an enqueue that failed: read once they end.
    @Test func aNoticeBeyondWhatTheOffersBroughtReadsWhenTheyEnd() {
        var m = settled(queueCounter: 10)
        m.enqueueStarted()
        m.enqueueStarted()
        let early = m.queueNoticed(upTo: 12)
        #expect(!early)
        _ = m.offered(queuePosition: 11)
        let first = m.enqueueEnded()
        #expect(!first)  // one enqueue is still on its way
        let second = m.enqueueEnded()  // it failed: no offer
        #expect(second)
        let unbalanced = m.enqueueEnded()  // nothing noticed since
        #expect(!unbalanced)
    }

    @Test func wakeUpsThatNameWhatWasHandedOverDoNotRead() {
        var m = settled()
        #expect(!m.needsRead(conversation: "c", upTo: 5))
        #expect(m.needsRead(conversation: "c", upTo: 6))
        _ = m.offered(conversation: "c", seq: 6, own: false)
        #expect(!m.needsRead(conversation: "c", upTo: 6))
        #expect(m.needsRead(conversation: "other", upTo: 1))
    }

    @Test func aRewindForgetsWhatWasHandedOverFromItsSeq() {
        var m = settled(window: 8, cursors: ["c": 9])
        let v33 = m.offered(conversation: "c", seq: 10, own: false)
        #expect(v33 == .deliver)
        m.rewind("c", to: 4)
        #expect(m.next(in: "c") == 3)
        // The old-epoch acknowledgement no longer moves the cursor.
        let v34 = m.messageFinished(conversation: "c", seq: 10)
        #expect(v34 == nil)
        let v35 = m.offered(conversation: "c", seq: 4, own: false)
        #expect(v35 == .deliver)
    }

    @Test func aStoppedPumpDoesNothing() {
        var m = settled()
        m.stop()
        let v36 = m.wake()
        #expect(v36 == nil)
        let v37 = m.offered(conversation: "c", seq: 6, own: false)
        #expect(v37 == Machine.Offer.none)
        let v38 = m.offered(queuePosition: 11)
        #expect(v38 == Machine.Offer.none)
        #expect(Machine(window: 0).window == 1)
    }

    @Test func aFailedReadLetsTheNextWakeUpRead() throws {
        var m = Machine(window: 2)
        let v39 = m.wake()
        _ = try #require(v39)
        let v40 = m.wake()
        #expect(v40 == nil)
        m.readFailed()
        let v41 = m.wake()
        #expect(v41 != nil)
    }
}
