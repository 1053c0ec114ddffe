import NIOCore

extension MQTTPacket {
    /// Decodes a frame as a packet of the given protocol version. Checks
    /// fixed-header flags, lengths, UTF-8 (well-formed, no U+0000), which
    /// properties the packet may carry and that each appears at most once
    /// where the standard says so. A CONNECT is decoded whatever `version`
    /// says, since it carries its own protocol level.
    ///
    /// Errors: `.malformedPacket` for bytes that do not form the packet
    /// (flags, lengths, reserved bits, UTF-8, unknown property, trailing
    /// bytes, AUTH in 3.1.1); `.protocolError` for a well-formed packet the
    /// standard forbids (property not allowed or repeated, packet identifier
    /// 0, a reason code the packet may not carry, no topic filters, retain
    /// handling 3, property values out of range, more user properties or
    /// topic filters than `MQTTLimits` allows); `.topicNameInvalid` for a
    /// PUBLISH or will topic with a wildcard, or empty without a Topic Alias;
    /// `.topicAliasInvalid` for a Topic Alias of 0; and for CONNECT
    /// `.unsupportedProtocolVersion` and `.clientIdentifierNotValid` (longer
    /// than `MQTTLimits.maximumClientIdentifierLength`).
    public static func decode(_ frame: MQTTFrame, version: ProtocolVersion) throws(MQTTError) -> MQTTPacket {
        guard let type = frame.packetType else { throw .malformed("reserved packet type 0") }
        var body = frame.body
        let packet: MQTTPacket
        switch type {
        case .publish:
            // The payload takes the rest of the body: nothing can trail.
            return .publish(try PublishPacket.read(from: &body, flags: frame.flags, version: version))
        case .puback:
            try FixedHeader.expectFlags(frame, 0, "PUBACK")
            packet = .puback(try AckPacket.read(from: &body, version: version, allowed: .pubackPubrec, packet: "PUBACK"))
        case .pubrec:
            try FixedHeader.expectFlags(frame, 0, "PUBREC")
            packet = .pubrec(try AckPacket.read(from: &body, version: version, allowed: .pubackPubrec, packet: "PUBREC"))
        case .pubrel:
            try FixedHeader.expectFlags(frame, 0x02, "PUBREL")
            packet = .pubrel(try AckPacket.read(from: &body, version: version, allowed: .pubrelPubcomp, packet: "PUBREL"))
        case .pubcomp:
            try FixedHeader.expectFlags(frame, 0, "PUBCOMP")
            packet = .pubcomp(try AckPacket.read(from: &body, version: version, allowed: .pubrelPubcomp, packet: "PUBCOMP"))
        case .connect:
            try FixedHeader.expectFlags(frame, 0, "CONNECT")
            packet = .connect(try ConnectPacket.read(from: &body))
        case .connack:
            try FixedHeader.expectFlags(frame, 0, "CONNACK")
            packet = .connack(try ConnAckPacket.read(from: &body, version: version))
        case .subscribe:
            try FixedHeader.expectFlags(frame, 0x02, "SUBSCRIBE")
            packet = .subscribe(try SubscribePacket.read(from: &body, version: version))
        case .suback:
            try FixedHeader.expectFlags(frame, 0, "SUBACK")
            packet = .suback(try SubAckPacket.read(from: &body, version: version))
        case .unsubscribe:
            try FixedHeader.expectFlags(frame, 0x02, "UNSUBSCRIBE")
            packet = .unsubscribe(try UnsubscribePacket.read(from: &body, version: version))
        case .unsuback:
            try FixedHeader.expectFlags(frame, 0, "UNSUBACK")
            packet = .unsuback(try UnsubAckPacket.read(from: &body, version: version))
        case .pingreq:
            try FixedHeader.expectFlags(frame, 0, "PINGREQ")
            packet = .pingreq
        case .pingresp:
            try FixedHeader.expectFlags(frame, 0, "PINGRESP")
            packet = .pingresp
        case .disconnect:
            try FixedHeader.expectFlags(frame, 0, "DISCONNECT")
            packet = .disconnect(try DisconnectPacket.read(from: &body, version: version))
        case .auth:
            guard version == .v5 else { throw .malformed("packet type 15 is reserved in MQTT 3.1.1") }
            try FixedHeader.expectFlags(frame, 0, "AUTH")
            packet = .auth(try AuthPacket.read(from: &body))
        }
        guard body.readableBytes == 0 else {
            throw .malformed("\(type) has \(body.readableBytes) bytes past its end")
        }
        return packet
    }

    /// Decodes the first packet of a connection, which must be CONNECT.
    /// Throws `.unsupportedProtocolVersion` for any protocol name and level
    /// but "MQIsdp" 3 (MQTT 3.1), "MQTT" 4 (3.1.1) and "MQTT" 5 (5.0),
    /// `.protocolError` for any other packet type.
    public static func decodeConnect(_ frame: MQTTFrame) throws(MQTTError) -> ConnectPacket {
        guard frame.packetType == .connect else {
            throw .protocolViolation("first packet is \(frame.packetType.map { "\($0)" } ?? "type 0"), not CONNECT")
        }
        guard case .connect(let connect) = try Self.decode(frame, version: .v5) else {
            preconditionFailure("a CONNECT frame decodes as CONNECT")
        }
        return connect
    }

    /// Appends the whole packet (fixed header included) to `buffer`, in its
    /// shortest form. Properties are written only for 5.0, and only those the
    /// packet may carry (MQTT 5.0 §2.2.2.2). A CONNECT is written in its own
    /// `protocolVersion`. Throws `.malformedPacket` when a string or binary
    /// field is longer than the standard allows (or a QoS > 0 PUBLISH has no
    /// packet identifier, or a 3.1.1 CONNECT has a password without a user
    /// name), `.packetTooLarge` when the body exceeds the largest Remaining
    /// Length, `.protocolError` for a SUBSCRIBE or UNSUBSCRIBE without
    /// filters or an AUTH in 3.1.1. On error nothing is appended.
    public func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        let start = buffer.writerIndex
        do throws(MQTTError) {
            try self.writeOther(to: &buffer, version: version)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    private func writeOther(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        switch self {
        case .connect(let connect):
            try connect.write(to: &buffer)
        case .connack(let connack):
            try connack.write(to: &buffer, version: version)
        case .publish(let publish):
            try publish.write(to: &buffer, version: version)
        case .puback(let ack):
            try ack.write(to: &buffer, header: PacketType.puback.rawValue << 4, version: version)
        case .pubrec(let ack):
            try ack.write(to: &buffer, header: PacketType.pubrec.rawValue << 4, version: version)
        case .pubrel(let ack):
            try ack.write(to: &buffer, header: PacketType.pubrel.rawValue << 4 | 0x02, version: version)
        case .pubcomp(let ack):
            try ack.write(to: &buffer, header: PacketType.pubcomp.rawValue << 4, version: version)
        case .subscribe(let subscribe):
            try subscribe.write(to: &buffer, version: version)
        case .suback(let suback):
            try suback.write(to: &buffer, version: version)
        case .unsubscribe(let unsubscribe):
            try unsubscribe.write(to: &buffer, version: version)
        case .unsuback(let unsuback):
            try unsuback.write(to: &buffer, version: version)
        case .pingreq:
            try FixedHeader.write(PacketType.pingreq.rawValue << 4, remainingLength: 0, to: &buffer)
        case .pingresp:
            try FixedHeader.write(PacketType.pingresp.rawValue << 4, remainingLength: 0, to: &buffer)
        case .disconnect(let disconnect):
            try disconnect.write(to: &buffer, version: version)
        case .auth(let auth):
            guard version == .v5 else { throw .protocolViolation("AUTH does not exist in MQTT 3.1.1") }
            try auth.write(to: &buffer)
        }
    }

    /// The number of bytes `write(to:version:)` appends, fixed header
    /// included (what Maximum Packet Size limits, MQTT 5.0 §3.1.2.11.4).
    public func encodedLength(version: ProtocolVersion) -> Int {
        switch self {
        case .connect(let connect): return connect.encodedLength()
        case .connack(let connack): return connack.encodedLength(version: version)
        case .publish(let publish): return publish.encodedLength(version: version)
        case .puback(let ack), .pubrec(let ack), .pubrel(let ack), .pubcomp(let ack):
            return ack.encodedLength(version: version)
        case .subscribe(let subscribe): return subscribe.encodedLength(version: version)
        case .suback(let suback): return suback.encodedLength(version: version)
        case .unsubscribe(let unsubscribe): return unsubscribe.encodedLength(version: version)
        case .unsuback(let unsuback): return unsuback.encodedLength(version: version)
        case .pingreq, .pingresp: return 2
        case .disconnect(let disconnect): return disconnect.encodedLength(version: version)
        case .auth(let auth): return auth.encodedLength()
        }
    }
}
