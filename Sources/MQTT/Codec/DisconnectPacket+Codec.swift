import NIOCore

/// DISCONNECT and AUTH share a layout in 5.0: an optional reason code, then
/// optional properties; an empty body means reason 0x00 (MQTT 5.0 §3.14.2.1, §3.15.2.1).
enum ReasonAndProperties {
    static func read(
        from body: inout ByteBuffer,
        allowed: ReasonCodeSet,
        context: PropertyContext
    ) throws(MQTTError) -> (ReasonCode, MQTTProperties) {
        guard body.readableBytes > 0 else { return (.success, MQTTProperties()) }
        let reasonCode = try body.readReasonCode(allowed: allowed, in: context.name)
        guard body.readableBytes > 0 else { return (reasonCode, MQTTProperties()) }
        return (reasonCode, try MQTTProperties.read(from: &body, context: context))
    }

    @inline(__always)
    static func lengths(_ reasonCode: ReasonCode, _ properties: MQTTProperties, context: PropertyContext) -> (remaining: Int, properties: Int) {
        let propertiesLength = properties.encodedLength(for: context)
        if propertiesLength > 0 { return (1 + propertiesLength.withPropertyLengthPrefix, propertiesLength) }
        return (reasonCode == .success ? 0 : 1, 0)
    }

    static func write(
        _ reasonCode: ReasonCode,
        _ properties: MQTTProperties,
        header: UInt8,
        context: PropertyContext,
        to buffer: inout ByteBuffer
    ) throws(MQTTError) {
        let (remaining, propertiesLength) = Self.lengths(reasonCode, properties, context: context)
        try FixedHeader.write(header, remainingLength: remaining, to: &buffer)
        guard remaining > 0 else { return }
        buffer.writeInteger(reasonCode.rawValue)
        guard remaining > 1 else { return }
        try properties.write(to: &buffer, context: context, length: propertiesLength)
    }
}

extension DisconnectPacket {
    /// Decodes a DISCONNECT body; in 3.1.1 the body is empty.
    static func read(from body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) -> DisconnectPacket {
        guard version == .v5 else { return DisconnectPacket() }
        let (reasonCode, properties) = try ReasonAndProperties.read(from: &body, allowed: .disconnect, context: .disconnect)
        return DisconnectPacket(reasonCode: reasonCode, properties: properties)
    }

    func encodedLength(version: ProtocolVersion) -> Int {
        guard version == .v5 else { return 2 }
        return FixedHeader.packetLength(
            remainingLength: ReasonAndProperties.lengths(self.reasonCode, self.properties, context: .disconnect).remaining
        )
    }

    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        let header = PacketType.disconnect.rawValue << 4
        guard version == .v5 else {
            try FixedHeader.write(header, remainingLength: 0, to: &buffer)
            return
        }
        try ReasonAndProperties.write(self.reasonCode, self.properties, header: header, context: .disconnect, to: &buffer)
    }
}

extension AuthPacket {
    /// Decodes an AUTH body (5.0 only).
    static func read(from body: inout ByteBuffer) throws(MQTTError) -> AuthPacket {
        let (reasonCode, properties) = try ReasonAndProperties.read(from: &body, allowed: .auth, context: .auth)
        return AuthPacket(reasonCode: reasonCode, properties: properties)
    }

    func encodedLength() -> Int {
        FixedHeader.packetLength(
            remainingLength: ReasonAndProperties.lengths(self.reasonCode, self.properties, context: .auth).remaining
        )
    }

    func write(to buffer: inout ByteBuffer) throws(MQTTError) {
        try ReasonAndProperties.write(
            self.reasonCode, self.properties, header: PacketType.auth.rawValue << 4, context: .auth, to: &buffer
        )
    }
}
