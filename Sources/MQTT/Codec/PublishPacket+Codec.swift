import NIOCore

extension PublishPacket {
    /// Decodes a PUBLISH (MQTT 5.0 §3.3; MQTT 3.1.1 §3.3). The payload is a
    /// slice of the frame's body, not a copy.
    @inline(__always)
    static func read(from body: inout ByteBuffer, flags: UInt8, version: ProtocolVersion) throws(MQTTError) -> PublishPacket {
        guard let qos = QoS(rawValue: (flags >> 1) & 0x03) else { throw .malformed("PUBLISH QoS is 3") }
        let dup = flags & 0x08 != 0
        if dup && qos == .atMostOnce { throw .malformed("PUBLISH has DUP set with QoS 0") }
        let (topicName, hasWildcard) = try need(body.readMQTTTopicName(), "topic name")
        if hasWildcard { throw MQTTError(.topicNameInvalid, "PUBLISH topic name holds a wildcard") }
        let packetIdentifier = qos == .atMostOnce ? nil : try body.readPacketIdentifier()
        let properties: MQTTProperties
        switch version {
        case .v31, .v311:
            properties = MQTTProperties()
            if topicName.isEmpty { throw MQTTError(.topicNameInvalid, "PUBLISH topic name is empty") }
        case .v5:
            properties = try MQTTProperties.read(from: &body, context: .publish)
            if topicName.isEmpty && properties.topicAlias == nil {
                // MQTT 5.0 §3.3.4: a Protocol Error, not a bad topic name.
                throw MQTTError(.protocolError, "PUBLISH topic name is empty and there is no topic alias")
            }
        }
        let payload = body.readSlice(length: body.readableBytes)!
        return PublishPacket(
            topicName: topicName,
            payload: payload,
            qos: qos,
            retain: flags & 0x01 != 0,
            dup: dup,
            packetIdentifier: packetIdentifier,
            properties: properties
        )
    }

    /// The Remaining Length and the Property Length (0 for 3.1.1).
    @inline(__always)
    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        var remaining = lengthPrefixedLength(self.topicName.utf8.count) + self.payload.readableBytes
        if self.qos != .atMostOnce { remaining += 2 }
        guard version == .v5 else { return (remaining, 0) }
        let propertiesLength = self.properties.encodedLength(for: .publish)
        return (remaining + propertiesLength.withPropertyLengthPrefix, propertiesLength)
    }

    @inline(__always)
    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    /// Writes the packet straight into `buffer`: lengths are computed first,
    /// then the payload is appended as it is. DUP is written only with QoS > 0.
    @inline(__always)
    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        guard self.topicName.utf8.count <= MQTTLimits.maximumTopicLength else {
            throw .malformed("topic name is \(self.topicName.utf8.count) bytes, over 65,535")
        }
        var header = PacketType.publish.rawValue << 4 | self.qos.rawValue << 1
        if self.retain { header |= 0x01 }
        if self.qos != .atMostOnce {
            guard self.packetIdentifier != nil else { throw .malformed("PUBLISH with QoS \(self.qos.rawValue) needs a packet identifier") }
            if self.dup { header |= 0x08 }
        }
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(header, remainingLength: remaining, to: &buffer)
        try buffer.writeMQTTString(self.topicName, "topic name")
        if self.qos != .atMostOnce, let packetIdentifier = self.packetIdentifier {
            buffer.writeInteger(packetIdentifier)
        }
        if version == .v5 {
            try self.properties.write(to: &buffer, context: .publish, length: propertiesLength)
        }
        buffer.writeImmutableBuffer(self.payload)
    }
}
