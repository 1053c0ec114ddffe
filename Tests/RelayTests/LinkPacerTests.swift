import NIOCore
@testable import RelayLinkEmulator
import Testing

@Suite struct LinkPacerTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test func delaysByHalfTheRTT() {
        var pacer = LinkPacer()
        let at = pacer.arrival(bytes: 100, now: start, conditions: .init(rttMs: 80, bandwidthKbps: 1_000_000, loss: 0), lost: false)
        #expect(at - start == .milliseconds(40))
    }

    @Test func pacesToTheBandwidthPastTheBurst() {
        var pacer = LinkPacer()
        let conditions = LinkConditions(rttMs: 0, bandwidthKbps: 8, loss: 0) // 1000 bytes/s
        var last = start
        for _ in 0..<10 { last = pacer.arrival(bytes: LinkPacer.burstBytes, now: start, conditions: conditions, lost: false) }
        // 10 bursts at 1000 bytes/s: the first leaves at once, the last 9 bursts' time later.
        #expect(last - start == .nanoseconds(Int64(9 * Double(LinkPacer.burstBytes) / 1000 * 1e9)))
    }

    @Test func lostChunksComeOneRTTLaterAndHoldBackLaterOnes() {
        var pacer = LinkPacer()
        let conditions = LinkConditions(rttMs: 100, bandwidthKbps: 1_000_000, loss: 0.5)
        let lost = pacer.arrival(bytes: 10, now: start, conditions: conditions, lost: true)
        let next = pacer.arrival(bytes: 10, now: start, conditions: conditions, lost: false)
        #expect(lost - start == .milliseconds(150))
        #expect(next == lost)
    }

    @Test func controlLines() throws {
        #expect(try LinkControlCommand.parse("cut") == .cut)
        #expect(try LinkControlCommand.parse("heal\r") == .heal)
        #expect(try LinkControlCommand.parse("status") == .status)
        #expect(try LinkControlCommand.parse("set rtt=80 loss=0.01") == .set(rttMs: 80, bandwidthKbps: nil, loss: 0.01))
        #expect(try LinkControlCommand.parse(LinkControlCommand.set(rttMs: 5, bandwidthKbps: 9, loss: 0).line) == .set(rttMs: 5, bandwidthKbps: 9, loss: 0))
        #expect(throws: LinkControlError.self) { try LinkControlCommand.parse("set jitter=4") }
        #expect(throws: LinkControlError.self) { try LinkControlCommand.parse("drop") }
    }
}
