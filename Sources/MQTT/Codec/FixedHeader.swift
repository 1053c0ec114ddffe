import NIOCore

/// Fixed-header helpers (MQTT 5.0 §2.1).
enum FixedHeader {
    /// The whole packet size for a body of `remainingLength` bytes.
    @inline(__always)
    static func packetLength(remainingLength: Int) -> Int {
        1 + variableByteIntegerLength(remainingLength) + remainingLength
    }

    /// Writes the first byte and the Remaining Length, reserving room for the
    /// whole packet. Throws `.packetTooLarge` when the body cannot be
    /// described by a Remaining Length (MQTT 5.0 §2.1.4).
    @inline(__always)
    static func write(_ header: UInt8, remainingLength: Int, to buffer: inout ByteBuffer) throws(MQTTError) {
        guard remainingLength <= Int(MQTTLimits.maximumRemainingLength) else {
            throw MQTTError(.packetTooLarge, "remaining length \(remainingLength) over \(MQTTLimits.maximumRemainingLength)")
        }
        buffer.reserveCapacity(minimumWritableBytes: Self.packetLength(remainingLength: remainingLength))
        buffer.writeInteger(header)
        buffer.writeVariableByteInteger(remainingLength)
    }

    /// Checks the four flag bits of a packet whose flags are fixed (MQTT 5.0 §2.1.3).
    @inline(__always)
    static func expectFlags(_ frame: MQTTFrame, _ expected: UInt8, _ packet: StaticString) throws(MQTTError) {
        guard frame.flags == expected else {
            throw .malformed("\(packet) fixed header flags are 0x\(String(frame.flags, radix: 16)), not 0x\(String(expected, radix: 16))")
        }
    }
}

extension Int {
    /// The Variable Byte Integer for a Property Length plus the properties.
    @inline(__always)
    var withPropertyLengthPrefix: Int { variableByteIntegerLength(self) + self }
}
