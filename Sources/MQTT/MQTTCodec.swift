import NIOCore

// API STUBS: the codec helper replaces these bodies (and may move them to other files).

/// Splits a byte stream into frames (MQTT 5.0 §2.1).
public enum MQTTFramer {
    /// Reads one frame from the front of `buffer`.
    ///
    /// Returns nil and leaves `buffer` untouched when the frame is not complete.
    /// Throws `.malformedPacket` for a Remaining Length over 4 bytes, and
    /// `.packetTooLarge` as soon as the Remaining Length is decoded if the whole
    /// packet would exceed `maximumPacketSize` (before waiting for, or
    /// allocating, the body).
    public static func readFrame(from buffer: inout ByteBuffer, maximumPacketSize: UInt32) throws(MQTTError) -> MQTTFrame? {
        fatalError("unimplemented")
    }
}

extension MQTTPacket {
    /// Decodes a frame as a packet of the given protocol version. Checks
    /// fixed-header flags, lengths, UTF-8 (well-formed, no U+0000), which
    /// properties the packet may carry and that each appears at most once
    /// where the standard says so. A CONNECT is decoded whatever `version`
    /// says, since it carries its own protocol level.
    public static func decode(_ frame: MQTTFrame, version: ProtocolVersion) throws(MQTTError) -> MQTTPacket {
        fatalError("unimplemented")
    }

    /// Decodes the first packet of a connection, which must be CONNECT.
    /// Throws `.unsupportedProtocolVersion` for a protocol name other than
    /// "MQTT" or a level other than 4 or 5, `.protocolError` for any other
    /// packet type.
    public static func decodeConnect(_ frame: MQTTFrame) throws(MQTTError) -> ConnectPacket {
        fatalError("unimplemented")
    }

    /// Appends the whole packet (fixed header included) to `buffer`.
    /// Properties are written only for 5.0. Throws `.malformedPacket` when a
    /// string or binary field is longer than the standard allows.
    public func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        fatalError("unimplemented")
    }

    /// The number of bytes `write(to:version:)` appends, fixed header
    /// included (what Maximum Packet Size limits, MQTT 5.0 §3.1.2.11.4).
    public func encodedLength(version: ProtocolVersion) -> Int {
        fatalError("unimplemented")
    }
}
