import MQTT
import NIOCore
import Testing

/// A buffer from hex text such as "C0 00" (spaces ignored).
func buffer(_ hex: String) -> ByteBuffer {
    ByteBuffer(bytes: bytes(hex))
}

func bytes(_ hex: String) -> [UInt8] {
    let digits = hex.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd hex \(hex)")
    var result: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        result.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return result
}

func hex(_ buffer: ByteBuffer) -> String {
    buffer.readableBytesView.map { byte in
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}

/// Frames and decodes exactly one packet from `hex`.
func decode(_ hex: String, version: ProtocolVersion) throws(MQTTError) -> MQTTPacket {
    var input = buffer(hex)
    guard let frame = try MQTTFramer.readFrame(from: &input, maximumPacketSize: MQTTLimits.maximumPacketSize) else {
        throw MQTTError(.malformedPacket, "test input is not a whole frame")
    }
    precondition(input.readableBytes == 0, "test input has bytes after the frame")
    return try MQTTPacket.decode(frame, version: version)
}

/// Encodes a packet, checking `encodedLength` against what was written.
func encode(_ packet: MQTTPacket, version: ProtocolVersion, sourceLocation: SourceLocation = #_sourceLocation) throws -> ByteBuffer {
    var out = ByteBuffer(bytes: [0xEE]) // something before, to check nothing is overwritten
    out.moveReaderIndex(forwardBy: 1)
    try packet.write(to: &out, version: version)
    #expect(out.readableBytes == packet.encodedLength(version: version), "encodedLength of \(packet.type)", sourceLocation: sourceLocation)
    return out
}

/// Encodes, frames and decodes `packet`, expecting `expected` (by default the packet itself).
func expectRoundTrip(
    _ packet: MQTTPacket,
    version: ProtocolVersion,
    as expected: MQTTPacket? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var encoded = try encode(packet, version: version, sourceLocation: sourceLocation)
    let frame = try #require(try MQTTFramer.readFrame(from: &encoded, maximumPacketSize: MQTTLimits.maximumPacketSize), sourceLocation: sourceLocation)
    #expect(encoded.readableBytes == 0, sourceLocation: sourceLocation)
    let decoded = try MQTTPacket.decode(frame, version: version)
    #expect(decoded == (expected ?? packet), sourceLocation: sourceLocation)
}

/// Expects decoding `hex` to fail with `kind`.
func expectDecodeError(
    _ kind: MQTTError.Kind,
    _ hex: String,
    version: ProtocolVersion,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let packet = try decode(hex, version: version)
        Issue.record("expected \(kind), decoded \(packet)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
    }
}

/// A small deterministic generator so random splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    /// A length-prefixed MQTT string in hex.
    var mqttHex: String {
        let utf8 = Array(self.utf8)
        return hex(ByteBuffer(bytes: [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] + utf8))
    }
}

/// A whole packet in hex: `header`, then the Remaining Length of `body`, then `body`.
func packet(_ header: UInt8, _ body: String) -> String {
    var length = bytes(body).count
    var encoded: [UInt8] = []
    repeat {
        var byte = UInt8(length & 0x7F)
        length >>= 7
        if length > 0 { byte |= 0x80 }
        encoded.append(byte)
    } while length > 0
    return hex(ByteBuffer(bytes: [header] + encoded)) + " " + body
}

/// A CONNECT in hex with the given parts (properties only when given).
func connect(name: String = "MQTT", level: UInt8 = 5, flags: UInt8 = 0x02, properties: String? = nil, payload: String = "00 01 61") -> String {
    let levelHex = hex(ByteBuffer(bytes: [level, flags]))
    let props = properties ?? (level == 5 ? "00" : "")
    return packet(0x10, "\(name.mqttHex) \(levelHex) 00 3C \(props) \(payload)")
}
