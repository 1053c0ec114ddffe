import NIOCore

extension AckPacket {
    /// Decodes a PUBACK, PUBREC, PUBREL or PUBCOMP body (MQTT 5.0 §3.4–§3.7).
    /// In 5.0 a Remaining Length of 2 means Success without properties, and
    /// 3 a reason code without properties (§3.4.2.1).
    static func read(
        from body: inout ByteBuffer,
        version: ProtocolVersion,
        allowed: ReasonCodeSet,
        packet: StaticString
    ) throws(MQTTError) -> AckPacket {
        let packetIdentifier = try body.readPacketIdentifier()
        guard version == .v5, body.readableBytes > 0 else { return AckPacket(packetIdentifier: packetIdentifier) }
        let reasonCode = try body.readReasonCode(allowed: allowed, in: packet)
        guard body.readableBytes > 0 else { return AckPacket(packetIdentifier: packetIdentifier, reasonCode: reasonCode) }
        let properties = try MQTTProperties.read(from: &body, context: .ack)
        return AckPacket(packetIdentifier: packetIdentifier, reasonCode: reasonCode, properties: properties)
    }

    /// The Remaining Length and the Property Length of the shortest form.
    @inline(__always)
    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        guard version == .v5 else { return (2, 0) }
        let propertiesLength = self.properties.encodedLength(for: .ack)
        if propertiesLength > 0 { return (3 + propertiesLength.withPropertyLengthPrefix, propertiesLength) }
        return (self.reasonCode == .success ? 2 : 3, 0)
    }

    @inline(__always)
    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    /// Writes the shortest form; `header` is the whole first byte.
    @inline(__always)
    func write(to buffer: inout ByteBuffer, header: UInt8, version: ProtocolVersion) throws(MQTTError) {
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(header, remainingLength: remaining, to: &buffer)
        buffer.writeInteger(self.packetIdentifier)
        guard remaining > 2 else { return }
        buffer.writeInteger(self.reasonCode.rawValue)
        guard remaining > 3 else { return }
        try self.properties.write(to: &buffer, context: .ack, length: propertiesLength)
    }
}
