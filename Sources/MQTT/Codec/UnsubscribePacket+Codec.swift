import NIOCore

extension UnsubscribePacket {
    /// Decodes an UNSUBSCRIBE body (MQTT 5.0 §3.10). Topic filters are
    /// checked as UTF-8 only; in 5.0 an invalid one is answered per filter in UNSUBACK.
    static func read(from body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) -> UnsubscribePacket {
        let packetIdentifier = try body.readPacketIdentifier(zeroIsMalformed: true)
        let properties = version == .v5 ? try MQTTProperties.read(from: &body, context: .unsubscribe) : MQTTProperties()
        var topicFilters: [String] = []
        while body.readableBytes > 0 {
            guard topicFilters.count < MQTTLimits.maximumTopicFiltersPerPacket else {
                throw .protocolViolation("UNSUBSCRIBE with more than \(MQTTLimits.maximumTopicFiltersPerPacket) topic filters")
            }
            topicFilters.append(try need(body.readMQTTString(), "topic filter"))
        }
        guard !topicFilters.isEmpty else { throw .malformed("UNSUBSCRIBE without topic filters") }
        return UnsubscribePacket(packetIdentifier: packetIdentifier, topicFilters: topicFilters, properties: properties)
    }

    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        var remaining = 2
        var propertiesLength = 0
        if version == .v5 {
            propertiesLength = self.properties.encodedLength(for: .unsubscribe)
            remaining += propertiesLength.withPropertyLengthPrefix
        }
        for filter in self.topicFilters { remaining += lengthPrefixedLength(filter.utf8.count) }
        return (remaining, propertiesLength)
    }

    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        guard !self.topicFilters.isEmpty else { throw .protocolViolation("UNSUBSCRIBE needs a topic filter") }
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(PacketType.unsubscribe.rawValue << 4 | 0x02, remainingLength: remaining, to: &buffer)
        buffer.writeInteger(self.packetIdentifier)
        if version == .v5 {
            try self.properties.write(to: &buffer, context: .unsubscribe, length: propertiesLength)
        }
        for filter in self.topicFilters { try buffer.writeMQTTString(filter, "topic filter") }
    }
}

extension UnsubAckPacket {
    /// Decodes an UNSUBACK body (MQTT 5.0 §3.11). In 3.1.1 it is only the
    /// packet identifier and `reasonCodes` is empty.
    static func read(from body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) -> UnsubAckPacket {
        let packetIdentifier = try body.readPacketIdentifier()
        guard version == .v5 else { return UnsubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: []) }
        let properties = try MQTTProperties.read(from: &body, context: .unsuback)
        guard body.readableBytes <= MQTTLimits.maximumTopicFiltersPerPacket else {
            throw .protocolViolation("UNSUBACK with more than \(MQTTLimits.maximumTopicFiltersPerPacket) reason codes")
        }
        var reasonCodes: [ReasonCode] = []
        reasonCodes.reserveCapacity(body.readableBytes)
        while body.readableBytes > 0 {
            reasonCodes.append(try body.readReasonCode(allowed: .unsuback, in: "UNSUBACK"))
        }
        return UnsubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
    }

    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        guard version == .v5 else { return (2, 0) }
        let propertiesLength = self.properties.encodedLength(for: .unsuback)
        return (2 + propertiesLength.withPropertyLengthPrefix + self.reasonCodes.count, propertiesLength)
    }

    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(PacketType.unsuback.rawValue << 4, remainingLength: remaining, to: &buffer)
        buffer.writeInteger(self.packetIdentifier)
        guard version == .v5 else { return }
        try self.properties.write(to: &buffer, context: .unsuback, length: propertiesLength)
        for code in self.reasonCodes { buffer.writeInteger(code.rawValue) }
    }
}
