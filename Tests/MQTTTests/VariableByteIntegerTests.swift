@testable import MQTT
import NIOCore
import Testing

@Suite("Variable Byte Integer")
struct VariableByteIntegerTests {
    /// MQTT 5.0 §1.5.5, table 1-1 edges.
    static let edges: [(value: Int, encoding: String)] = [
        (0, "00"),
        (127, "7F"),
        (128, "80 01"),
        (16_383, "FF 7F"),
        (16_384, "80 80 01"),
        (2_097_151, "FF FF 7F"),
        (2_097_152, "80 80 80 01"),
        (268_435_455, "FF FF FF 7F"),
    ]

    @Test(arguments: edges)
    func edge(value: Int, encoding: String) throws {
        var out = ByteBuffer()
        let written = out.writeVariableByteInteger(value)
        #expect(hex(out) == encoding)
        #expect(written == bytes(encoding).count)
        #expect(variableByteIntegerLength(value) == written)
        #expect(try out.readVariableByteInteger() == UInt32(value))
        #expect(out.readableBytes == 0)
    }

    @Test func edgesAsRemainingLength() throws {
        // The framer reports a packet of 1 + VBI + remaining bytes for each edge.
        for (value, encoding) in Self.edges {
            var input = buffer("30 " + encoding)
            let size = 1 + bytes(encoding).count + value
            #expect(try MQTTFramer.readFrame(from: &input, maximumPacketSize: MQTTLimits.maximumPacketSize) == nil || value == 0)
            input = buffer("30 " + encoding)
            do {
                _ = try MQTTFramer.readFrame(from: &input, maximumPacketSize: UInt32(size - 1))
                Issue.record("packet of \(size) bytes passed a limit of \(size - 1)")
            } catch {
                #expect(error.kind == .packetTooLarge)
            }
        }
    }

    @Test func fifthByteIsMalformed() {
        var input = buffer("FF FF FF FF 01")
        do {
            _ = try input.readVariableByteInteger()
            Issue.record("five-byte VBI accepted")
        } catch {
            #expect(error.kind == .malformedPacket)
        }
    }

    @Test func shortInputIsNil() throws {
        var input = buffer("FF FF")
        #expect(try input.readVariableByteInteger() == nil)
        #expect(input.readableBytes == 2)
    }
}
