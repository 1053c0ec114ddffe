import Crypto
import Foundation
import RelayE2EE
import Signal
import Testing

@Suite("End-to-end frames and addresses")
struct E2EEFrameTests {
    @Test("frames round-trip; anything else is refused")
    func frames() throws {
        let whisper = E2EEFrame.signal(SignalCiphertext(kind: .whisper, body: Data([0x33, 1, 2])))
        let prekey = E2EEFrame.signal(SignalCiphertext(kind: .preKey, body: Data([0x33, 9])))
        let group = E2EEFrame.signal(SignalCiphertext(kind: .senderKey, body: Data([0x33])))
        for frame in [E2EEFrame.notForYou, .noCopy, whisper, prekey, group] {
            #expect(E2EEFrame(frame.bytes) == frame)
        }
        #expect(whisper.bytes == Data([0x02, 0x33, 1, 2]))
        #expect(E2EEFrame.noCopy.bytes == Data([0x01]))
        for bad in [Data(), Data([0x02]), Data([0x05, 1]), Data([0x06, 1]), Data([0x00, 1]), Data([0x01, 0]), Data([0xFF])] {
            #expect(E2EEFrame(bad) == nil)
        }
    }

    @Test("a device's Signal number: SHA-256's first four bytes, top bit cleared, never 0")
    func deviceNumbers() {
        for device in ["alice-phone", "bob-laptop", "x", String(repeating: "d", count: 64)] {
            let digest = Array(SHA256.hash(data: Data(device.utf8)))
            var word: UInt32 = 0
            for byte in digest.prefix(4) { word = word << 8 | UInt32(byte) }
            let expected = Int32(word & 0x7FFF_FFFF)
            #expect(SignalAddressing.deviceNumber(of: device) == max(expected, 1))
            #expect(SignalAddressing.deviceNumber(of: device) > 0)
        }
        #expect(SignalAddressing.address(user: "alice", device: "alice-phone").name == "alice")
        #expect(SignalAddressing.deviceNumber(of: "alice-phone") != SignalAddressing.deviceNumber(of: "alice-laptop"))
    }
}
