import RelayReplication
import Testing

/// Layer 1: the pipelined link's window alone, no sockets, no clock (times
/// are given in ns).
@Suite struct ReplicationWindowTests {
    let ms: UInt64 = 1_000_000
    let small = ReplicationWindow.Configuration(minimumBytes: 1000, maximumBytes: 100_000, maximumBatches: 4)

    /// An open window of `configuration` from acknowledged id `acked`.
    func open(_ configuration: ReplicationWindow.Configuration? = nil, acked: UInt64 = 0) -> ReplicationWindow {
        var window = ReplicationWindow(configuration: configuration ?? small)
        window.connected(acknowledged: acked)
        return window
    }

    @Test func closedUntilConnectedAndShipsFromTheStoredAcknowledgement() {
        var window = ReplicationWindow(configuration: small)
        #expect(!window.mayShip)
        let shipped19 = window.shipped(first: 1, last: 3, bytes: 10, at: 0)
        #expect(!shipped19)
        window.connected(acknowledged: 41)
        #expect(window.mayShip)
        #expect(window.shipped == 41)
        let shipped23 = window.shipped(first: 43, last: 44, bytes: 10, at: 0)
        #expect(!shipped23)  // not after the last shipped
        let shipped24 = window.shipped(first: 42, last: 44, bytes: 10, at: 0)
        #expect(shipped24)
        #expect(window.shipped == 44)
        #expect(window.inFlight.map(\.first) == [42])
    }

    @Test func severalBatchesInFlightUntilTheBatchCountIsReached() {
        var window = open()
        for n in UInt64(0)..<4 {
            #expect(window.mayShip)
            let shipped33 = window.shipped(first: n * 10 + 1, last: n * 10 + 10, bytes: 100, at: n)
            #expect(shipped33)
        }
        #expect(window.inFlight.count == 4)
        #expect(!window.mayShip)  // window full: 4 batches
        let acknowledged37 = window.acknowledged(through: 10, at: 80 * ms) == .advance(to: 10)
        #expect(acknowledged37)
        #expect(window.mayShip)
        #expect(window.inFlight.map(\.first) == [11, 21, 31])
    }

    @Test func windowFullOnBytesWaitsForAnAcknowledgement() {
        var window = open()
        #expect(window.windowBytes == 1000)  // no sample yet: the minimum
        let shipped45 = window.shipped(first: 1, last: 1, bytes: 600, at: 0)
        #expect(shipped45)
        #expect(window.mayShip)  // 600 < 1000
        let shipped47 = window.shipped(first: 2, last: 2, bytes: 600, at: 0)
        #expect(shipped47)  // may pass it by one batch
        #expect(!window.mayShip)
        #expect(window.bytesInFlight == 1200)
        let acknowledged50 = window.acknowledged(through: 1, at: 100 * ms) == .advance(to: 1)
        #expect(acknowledged50)
        #expect(window.mayShip)
    }

    @Test func acknowledgementsAreCumulativeAndOutOfOrderOnesAreIgnored() {
        var window = open()
        let shipped56 = window.shipped(first: 1, last: 5, bytes: 50, at: 0)
        #expect(shipped56)
        let shipped57 = window.shipped(first: 6, last: 9, bytes: 40, at: 0)
        #expect(shipped57)
        let shipped58 = window.shipped(first: 10, last: 12, bytes: 30, at: 0)
        #expect(shipped58)
        // The second batch's PUBACK first: the receiver applied everything through 9.
        let acknowledged60 = window.acknowledged(through: 9, at: 50 * ms) == .advance(to: 9)
        #expect(acknowledged60)
        #expect(window.acknowledged == 9)
        #expect(window.inFlight.map(\.first) == [10])
        // The first batch's PUBACK after it changes nothing.
        let acknowledged64 = window.acknowledged(through: 5, at: 60 * ms)
        #expect(acknowledged64 == .ignore)
        #expect(window.acknowledged == 9)
        let acknowledged66 = window.acknowledged(through: 12, at: 70 * ms) == .advance(to: 12)
        #expect(acknowledged66)
        #expect(window.inFlight.isEmpty)
    }

    @Test func duplicateAcknowledgementsChangeNothing() {
        var window = open()
        let shipped72 = window.shipped(first: 1, last: 3, bytes: 30, at: 0)
        #expect(shipped72)
        let shipped73 = window.shipped(first: 4, last: 6, bytes: 30, at: 0)
        #expect(shipped73)
        let acknowledged74 = window.acknowledged(through: 3, at: 40 * ms) == .advance(to: 3)
        #expect(acknowledged74)
        let before = window
        let acknowledged76 = window.acknowledged(through: 3, at: 41 * ms)
        #expect(acknowledged76 == .ignore)
        #expect(window == before)
    }

    @Test func anAcknowledgementNoBatchEndsAtDropsTheConnection() {
        var window = open()
        let shipped82 = window.shipped(first: 1, last: 3, bytes: 30, at: 0)
        #expect(shipped82)
        guard case .reconnect = window.acknowledged(through: 2, at: 10 * ms) else {
            Issue.record("expected reconnect")
            return
        }
        #expect(window.acknowledged == 0)
    }

    @Test func aRefusalEmptiesTheWindowAndLaterPubacksOfThatConnectionAreIgnored() {
        var window = open()
        let shipped92 = window.shipped(first: 1, last: 3, bytes: 30, at: 0)
        #expect(shipped92)
        let shipped93 = window.shipped(first: 4, last: 6, bytes: 30, at: 0)
        #expect(shipped93)
        let shipped94 = window.shipped(first: 7, last: 9, bytes: 30, at: 0)
        #expect(shipped94)
        let acknowledged95 = window.acknowledged(through: 3, at: 40 * ms) == .advance(to: 3)
        #expect(acknowledged95)
        let refused96 = window.refused(through: 6, reason: "PUBACK 0x80") == .reconnect(reason: "PUBACK 0x80")
        #expect(refused96)
        #expect(!window.isOpen && window.inFlight.isEmpty)
        #expect(window.shipped == 3)  // the next connection ships 4 again
        // The batch behind the refused one is refused too (gap): nothing more to do.
        let refused100 = window.refused(through: 9, reason: "gap")
        #expect(refused100 == .ignore)
        let acknowledged101 = window.acknowledged(through: 9, at: 50 * ms)
        #expect(acknowledged101 == .ignore)
        #expect(window.acknowledged == 3)
    }

    @Test func reconnectMidWindowShipsAgainFromTheAcknowledgedID() {
        var window = open(acked: 100)
        let shipped107 = window.shipped(first: 101, last: 110, bytes: 100, at: 0)
        #expect(shipped107)
        let shipped108 = window.shipped(first: 111, last: 120, bytes: 100, at: 0)
        #expect(shipped108)
        let acknowledged109 = window.acknowledged(through: 110, at: 80 * ms) == .advance(to: 110)
        #expect(acknowledged109)
        window.disconnected()
        #expect(!window.mayShip)
        // A PUBACK of the old connection arriving late is not taken.
        let acknowledged113 = window.acknowledged(through: 120, at: 90 * ms)
        #expect(acknowledged113 == .ignore)
        // The outbox may be behind what the window knew (its write was in flight): the later wins.
        window.connected(acknowledged: 105)
        #expect(window.acknowledged == 110)
        #expect(window.shipped == 110 && window.inFlight.isEmpty)
        let shipped118 = window.shipped(first: 111, last: 120, bytes: 100, at: 100 * ms)
        #expect(shipped118)
        // Another node advanced the outbox meanwhile: ship after that.
        window.disconnected()
        window.connected(acknowledged: 130)
        #expect(window.shipped == 130)
    }

    @Test func windowIsTheMeasuredBandwidthDelayProductTimesTheGain() {
        var window = open(ReplicationWindow.Configuration(minimumBytes: 1000, maximumBytes: 1_000_000, maximumBatches: 64))
        // 10 KB batches every 10 ms on a 100 ms round trip: 1 MB/s, BDP 100 KB.
        var id: UInt64 = 0
        var now: UInt64 = 0
        var sent: [(last: UInt64, at: UInt64)] = []
        for _ in 0..<30 {
            while let oldest = sent.first, oldest.at + 100 * ms <= now {
                _ = window.acknowledged(through: oldest.last, at: oldest.at + 100 * ms)
                sent.removeFirst()
            }
            let shipped136 = window.shipped(first: id + 1, last: id + 10, bytes: 10_000, at: now)
            #expect(shipped136)
            id += 10
            sent.append((id, now))
            now += 10 * ms
        }
        #expect(window.minimumRoundTrip == 100 * ms)
        let bdp = window.bandwidthDelayProduct ?? 0
        #expect(bdp >= 90_000 && bdp <= 110_000)
        #expect(window.windowBytes >= 180_000 && window.windowBytes <= 220_000)
    }

    @Test func windowStaysWithinItsBounds() {
        var window = open(ReplicationWindow.Configuration(minimumBytes: 5000, maximumBytes: 20_000, maximumBatches: 8))
        // Tiny and slow: the minimum.
        let shipped150 = window.shipped(first: 1, last: 1, bytes: 10, at: 0)
        #expect(shipped150)
        let acknowledged151 = window.acknowledged(through: 1, at: 200 * ms) == .advance(to: 1)
        #expect(acknowledged151)
        #expect(window.windowBytes == 5000)
        // Huge and fast: the maximum.
        let shipped154 = window.shipped(first: 2, last: 2, bytes: 10_000_000, at: 200 * ms)
        #expect(shipped154)
        let acknowledged155 = window.acknowledged(through: 2, at: 210 * ms) == .advance(to: 2)
        #expect(acknowledged155)
        #expect(window.windowBytes == 20_000)
    }
}

extension ReplicationWindowTests {
    @Test func stalledOnlyWhenNothingWasAcknowledgedForTheTimeout() {
        var window = open()
        #expect(!window.isStalled(at: 10_000 * ms, timeout: 2000 * ms), "nothing in flight")
        let first = window.shipped(first: 1, last: 1, bytes: 10, at: 0)
        #expect(first)
        for n in UInt64(2)...40 {
            _ = window.shipped(first: n, last: n, bytes: 10, at: n * ms)
            if window.inFlight.count == 4 {
                let ack = window.acknowledged(through: n - 3, at: n * 100 * ms)
                #expect(ack == .advance(to: n - 3))
            }
        }
        // Batches shipped long ago, but the window kept moving: not stalled.
        #expect(!window.isStalled(at: 4000 * ms + 100 * ms, timeout: 2000 * ms))
        // No acknowledgement for longer than the timeout: stalled.
        #expect(window.isStalled(at: 4000 * ms + 2001 * ms, timeout: 2000 * ms))
        window.disconnected()
        #expect(!window.isStalled(at: 9000 * ms, timeout: 2000 * ms))
    }
}
