import Foundation
import Testing

@testable import RelayBench

@Suite struct ChatBenchOutputTests {
    @Test func residentMemoryFromProcStatus() {
        let status = "Name:\trelay\nVmPeak:\t  900000 kB\nVmRSS:\t   76500 kB\nRssAnon:\t   60000 kB\n"
        #expect(ProcessMemory.residentBytes(status: status) == 76_500 * 1024)
        #expect(ProcessMemory.residentBytes(status: "VmRSS: 12 kB") == 12 * 1024)
        #expect(ProcessMemory.residentBytes(status: "Name:\tx\n") == nil)
        #expect(ProcessMemory.residentBytes(status: "VmRSS:\t12 MB\n") == nil)
    }

    @Test func tablesAlignRightAndPadShortRows() {
        let text = TextTable.render(["a", "bbb"], [["1000", "2"], ["3"]])
        #expect(text == "   a  bbb\n1000    2\n   3     ")
    }

    @Test func latencySummaryIsInMicroseconds() {
        var h = LatencyHistogram()
        for v: UInt64 in [1_000, 2_000, 3_000, 200_000] { h.record(v) }
        let s = LatencySummary(h)
        #expect(s.count == 4)
        #expect(s.max == 200)
        #expect(abs(s.p50 - 2) < 0.02)
        #expect(s.p99 == 200)
        #expect(abs(s.mean - 51.5) < 1e-9)
        #expect(LatencySummary(LatencyHistogram()).p99 == 0)
    }

    @Test func wireOverheadsAreWhatIsNotCiphertext() throws {
        let row = WireResult.Row(
            variant: "5+aliases", conversationLength: 20, deviceLength: 12,
            sendPacketBytes: 94, sendPayloadBytes: 84, deliveryPacketBytes: 160, deliveryPayloadBytes: 148,
            statusPacketBytes: 146, senderUpBytes: 102, senderDownBytes: 150, recipientUpBytes: 4,
            recipientDownBytes: 160, ciphertextBytes: 64
        )
        #expect(row.sendOverhead == 30)
        #expect(row.deliveredOverhead == 100)
        #expect(row.deliveredMQTTOverhead == 16)
        #expect(row.totalBytes == 416)
        // The JSON carries the derived figures and decodes back to the same row.
        let data = try JSONEncoder().encode(row)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["deliveredMQTTOverhead"] as? Double == 16)
        #expect(try JSONDecoder().decode(WireResult.Row.self, from: data) == row)
    }
}
