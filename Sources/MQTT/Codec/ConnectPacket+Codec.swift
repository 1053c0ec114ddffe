import NIOCore

extension ConnectPacket {
    private enum Flag {
        static let reserved: UInt8 = 0x01
        static let cleanStart: UInt8 = 0x02
        static let will: UInt8 = 0x04
        static let willRetain: UInt8 = 0x20
        static let password: UInt8 = 0x40
        static let username: UInt8 = 0x80
    }

    /// Decodes a CONNECT body (MQTT 5.0 §3.1.2, §3.1.3; MQTT 3.1.1 §3.1.2, §3.1.3).
    static func read(from body: inout ByteBuffer) throws(MQTTError) -> ConnectPacket {
        let protocolName = try need(body.readMQTTString(), "protocol name")
        let level = try need(body.readInteger(as: UInt8.self), "protocol level")
        guard let version = ProtocolVersion(protocolName: protocolName, level: level) else {
            throw MQTTError(.unsupportedProtocolVersion, "protocol \(protocolName.debugDescription) level \(level)")
        }
        let flags = try need(body.readInteger(as: UInt8.self), "connect flags")
        guard flags & Flag.reserved == 0 else { throw .malformed("CONNECT reserved flag is set") }
        let hasWill = flags & Flag.will != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & Flag.willRetain != 0
        let hasPassword = flags & Flag.password != 0
        let hasUsername = flags & Flag.username != 0
        if !hasWill && (willQoSBits != 0 || willRetain) {
            throw .malformed("CONNECT sets will QoS or will retain without the will flag")
        }
        guard let willQoS = QoS(rawValue: willQoSBits) else { throw .malformed("CONNECT will QoS is 3") }
        if version != .v5 && hasPassword && !hasUsername {
            throw .malformed("MQTT 3.1.1 CONNECT has a password without a user name")
        }
        let keepAlive = try need(body.readInteger(as: UInt16.self), "keep alive")
        let properties = version == .v5 ? try MQTTProperties.read(from: &body, context: .connect) : MQTTProperties()
        if properties.authenticationData != nil && properties.authenticationMethod == nil {
            throw .protocolViolation("CONNECT has Authentication Data without an Authentication Method")
        }

        if let length = body.getInteger(at: body.readerIndex, as: UInt16.self),
           Int(length) > MQTTLimits.maximumClientIdentifierLength {
            throw MQTTError(.clientIdentifierNotValid, "client identifier of \(length) bytes")
        }
        let clientIdentifier = try need(body.readMQTTString(), "client identifier")

        var will: Will?
        if hasWill {
            var willProperties = version == .v5 ? try MQTTProperties.read(from: &body, context: .will) : MQTTProperties()
            willProperties.correlationData = willProperties.correlationData.map(Self.ownCopy)
            let (topic, hasWildcard) = try need(body.readMQTTTopicName(), "will topic")
            guard !topic.isEmpty, !hasWildcard else {
                throw MQTTError(.topicNameInvalid, "will topic is empty or holds a wildcard")
            }
            let payload = Self.ownCopy(try need(body.readMQTTBinary(), "will payload"))
            will = Will(topic: topic, payload: payload, qos: willQoS, retain: willRetain, properties: willProperties)
        }
        let username = hasUsername ? try need(body.readMQTTString(), "user name") : nil
        let password = hasPassword ? Self.ownCopy(try need(body.readMQTTBinary(), "password")) : nil

        return ConnectPacket(
            protocolVersion: version,
            clientIdentifier: clientIdentifier,
            cleanStart: flags & Flag.cleanStart != 0,
            keepAlive: keepAlive,
            username: username,
            password: password,
            will: will,
            properties: properties
        )
    }

    /// The bytes of `slice` in storage of their own. A CONNECT's binary
    /// fields outlive the read buffer they were sliced from (the password
    /// while authentication runs, the will for the whole connection), and a
    /// slice would keep that whole buffer (kilobytes) alive.
    private static func ownCopy(_ slice: ByteBuffer) -> ByteBuffer {
        ByteBuffer(bytes: slice.readableBytesView)
    }

    /// CONNECT is written in its own `protocolVersion`.
    private func lengths() -> (remaining: Int, properties: Int, willProperties: Int) {
        let v5 = self.protocolVersion == .v5
        // Protocol name ("MQTT" or "MQIsdp"), level, flags, keep alive.
        var remaining = lengthPrefixedLength(self.protocolVersion.protocolName.utf8.count) + 1 + 1 + 2
        let propertiesLength = v5 ? self.properties.encodedLength(for: .connect) : 0
        if v5 { remaining += propertiesLength.withPropertyLengthPrefix }
        remaining += lengthPrefixedLength(self.clientIdentifier.utf8.count)
        var willPropertiesLength = 0
        if let will = self.will {
            if v5 {
                willPropertiesLength = will.properties.encodedLength(for: .will)
                remaining += willPropertiesLength.withPropertyLengthPrefix
            }
            remaining += lengthPrefixedLength(will.topic.utf8.count) + lengthPrefixedLength(will.payload.readableBytes)
        }
        if let username = self.username { remaining += lengthPrefixedLength(username.utf8.count) }
        if let password = self.password { remaining += lengthPrefixedLength(password.readableBytes) }
        return (remaining, propertiesLength, willPropertiesLength)
    }

    func encodedLength() -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths().remaining)
    }

    func write(to buffer: inout ByteBuffer) throws(MQTTError) {
        if self.protocolVersion != .v5 && self.password != nil && self.username == nil {
            throw .malformed("MQTT 3.1.1 CONNECT cannot carry a password without a user name")
        }
        let (remaining, propertiesLength, willPropertiesLength) = self.lengths()
        var flags: UInt8 = 0
        if self.cleanStart { flags |= Flag.cleanStart }
        if let will = self.will {
            flags |= Flag.will | (will.qos.rawValue << 3)
            if will.retain { flags |= Flag.willRetain }
        }
        if self.password != nil { flags |= Flag.password }
        if self.username != nil { flags |= Flag.username }

        try FixedHeader.write(PacketType.connect.rawValue << 4, remainingLength: remaining, to: &buffer)
        try buffer.writeMQTTString(self.protocolVersion.protocolName, "protocol name")
        buffer.writeInteger(self.protocolVersion.rawValue)
        buffer.writeInteger(flags)
        buffer.writeInteger(self.keepAlive)
        if self.protocolVersion == .v5 {
            try self.properties.write(to: &buffer, context: .connect, length: propertiesLength)
        }
        try buffer.writeMQTTString(self.clientIdentifier, "client identifier")
        if let will = self.will {
            if self.protocolVersion == .v5 {
                try will.properties.write(to: &buffer, context: .will, length: willPropertiesLength)
            }
            try buffer.writeMQTTString(will.topic, "will topic")
            try buffer.writeMQTTBinary(will.payload, "will payload")
        }
        if let username = self.username { try buffer.writeMQTTString(username, "user name") }
        if let password = self.password { try buffer.writeMQTTBinary(password, "password") }
    }
}
