import NIOCore

extension ConnAckPacket {
    /// Decodes a CONNACK body (MQTT 5.0 §3.2.2; MQTT 3.1.1 §3.2.2).
    static func read(from body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) -> ConnAckPacket {
        let flags = try need(body.readInteger(as: UInt8.self), "connect acknowledge flags")
        guard flags & 0xFE == 0 else { throw .malformed("CONNACK reserved flags are set") }
        switch version {
        case .v31, .v311:
            let code = try need(body.readInteger(as: UInt8.self), "connect return code")
            guard code <= 5 else { throw .malformed("CONNACK return code \(code) is reserved") }
            return ConnAckPacket(sessionPresent: flags == 1, reasonCode: ReasonCode(connectReturnCodeV311: code))
        case .v5:
            let code = try body.readReasonCode(allowed: .connack, in: "CONNACK")
            let properties = try MQTTProperties.read(from: &body, context: .connack)
            return ConnAckPacket(sessionPresent: flags == 1, reasonCode: code, properties: properties)
        }
    }

    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        switch version {
        case .v31, .v311:
            return (2, 0)
        case .v5:
            let propertiesLength = self.properties.encodedLength(for: .connack)
            return (2 + propertiesLength.withPropertyLengthPrefix, propertiesLength)
        }
    }

    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(PacketType.connack.rawValue << 4, remainingLength: remaining, to: &buffer)
        // MQTT 3.1 has no Session Present: the byte is reserved (MQTT 3.1 §3.2).
        buffer.writeInteger(self.sessionPresent && version != .v31 ? 1 : 0 as UInt8)
        switch version {
        case .v31, .v311:
            buffer.writeInteger(self.reasonCode.connectReturnCodeV311)
        case .v5:
            buffer.writeInteger(self.reasonCode.rawValue)
            try self.properties.write(to: &buffer, context: .connack, length: propertiesLength)
        }
    }
}
