import MQTT
import NIOCore

/// Splits the byte stream into MQTT frames. An incomplete packet leaves the
/// buffer untouched; a packet over the maximum size is refused as soon as
/// its Remaining Length is read, before its body arrives.
struct MQTTFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = MQTTFrame

    let maximumPacketSize: UInt32

    mutating func decode(buffer: inout ByteBuffer) throws -> MQTTFrame? {
        try MQTTFramer.readFrame(from: &buffer, maximumPacketSize: maximumPacketSize)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> MQTTFrame? {
        try decode(buffer: &buffer)
    }
}
