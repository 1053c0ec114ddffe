import NIOCore

extension SubscriptionOptions {
    /// Decodes the Subscription Options byte (MQTT 5.0 §3.8.3.1; MQTT 3.1.1
    /// §3.8.3, where only the QoS bits exist).
    static func read(_ byte: UInt8, version: ProtocolVersion) throws(MQTTError) -> SubscriptionOptions {
        let reserved: UInt8 = version == .v5 ? 0xC0 : 0xFC
        guard byte & reserved == 0 else { throw .malformed("subscription options reserved bits are set") }
        guard let qos = QoS(rawValue: byte & 0x03) else { throw .malformed("subscription QoS is 3") }
        guard let retainHandling = RetainHandling(rawValue: (byte >> 4) & 0x03) else {
            throw .protocolViolation("retain handling is 3")
        }
        return SubscriptionOptions(
            qos: qos,
            noLocal: byte & 0x04 != 0,
            retainAsPublished: byte & 0x08 != 0,
            retainHandling: retainHandling
        )
    }

    /// The Subscription Options byte; 3.1.1 carries only the QoS.
    func byte(version: ProtocolVersion) -> UInt8 {
        guard version == .v5 else { return self.qos.rawValue }
        var byte = self.qos.rawValue | self.retainHandling.rawValue << 4
        if self.noLocal { byte |= 0x04 }
        if self.retainAsPublished { byte |= 0x08 }
        return byte
    }
}

extension SubscribePacket {
    /// Decodes a SUBSCRIBE body (MQTT 5.0 §3.8.2, §3.8.3). Topic filters are
    /// checked as UTF-8 only: an invalid filter is answered per filter in
    /// SUBACK, so it is the server's to check with `MQTTTopic.validateFilter`.
    static func read(from body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) -> SubscribePacket {
        let packetIdentifier = try body.readPacketIdentifier(zeroIsMalformed: true)
        let properties = version == .v5 ? try MQTTProperties.read(from: &body, context: .subscribe) : MQTTProperties()
        var subscriptions: [Subscription] = []
        while body.readableBytes > 0 {
            guard subscriptions.count < MQTTLimits.maximumTopicFiltersPerPacket else {
                throw .protocolViolation("SUBSCRIBE with more than \(MQTTLimits.maximumTopicFiltersPerPacket) topic filters")
            }
            let topicFilter = try need(body.readMQTTString(), "topic filter")
            let options = try SubscriptionOptions.read(try need(body.readInteger(as: UInt8.self), "subscription options"), version: version)
            if version == .v5 && options.noLocal && MQTTTopic.isSharedSubscription(topicFilter) {
                throw .protocolViolation("No Local set on a shared subscription")
            }
            subscriptions.append(Subscription(topicFilter: topicFilter, options: options))
        }
        guard !subscriptions.isEmpty else { throw .malformed("SUBSCRIBE without topic filters") }
        return SubscribePacket(packetIdentifier: packetIdentifier, subscriptions: subscriptions, properties: properties)
    }

    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        var remaining = 2
        var propertiesLength = 0
        if version == .v5 {
            propertiesLength = self.properties.encodedLength(for: .subscribe)
            remaining += propertiesLength.withPropertyLengthPrefix
        }
        for subscription in self.subscriptions {
            remaining += lengthPrefixedLength(subscription.topicFilter.utf8.count) + 1
        }
        return (remaining, propertiesLength)
    }

    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        guard !self.subscriptions.isEmpty else { throw .protocolViolation("SUBSCRIBE needs a topic filter") }
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(PacketType.subscribe.rawValue << 4 | 0x02, remainingLength: remaining, to: &buffer)
        buffer.writeInteger(self.packetIdentifier)
        if version == .v5 {
            try self.properties.write(to: &buffer, context: .subscribe, length: propertiesLength)
        }
        for subscription in self.subscriptions {
            try buffer.writeMQTTString(subscription.topicFilter, "topic filter")
            buffer.writeInteger(subscription.options.byte(version: version))
        }
    }
}

extension SubAckPacket {
    /// Decodes a SUBACK body (MQTT 5.0 §3.9; MQTT 3.1.1 §3.9, whose return
    /// codes 0x00–0x02 and 0x80 are the same bytes as the 5.0 reason codes).
    static func read(from body: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) -> SubAckPacket {
        let packetIdentifier = try body.readPacketIdentifier()
        let properties = version == .v5 ? try MQTTProperties.read(from: &body, context: .suback) : MQTTProperties()
        guard body.readableBytes <= MQTTLimits.maximumTopicFiltersPerPacket else {
            throw .protocolViolation("SUBACK with more than \(MQTTLimits.maximumTopicFiltersPerPacket) reason codes")
        }
        var reasonCodes: [ReasonCode] = []
        reasonCodes.reserveCapacity(body.readableBytes)
        while let byte = body.readInteger(as: UInt8.self) {
            let code = ReasonCode(rawValue: byte)
            switch version {
            case .v31, .v311:
                guard ReasonCodeSet.subackV311.contains(code) else { throw .malformed("SUBACK return code \(code) is reserved") }
            case .v5:
                guard ReasonCodeSet.suback.contains(code) else { throw .protocolViolation("reason code \(code) is not allowed in SUBACK") }
            }
            reasonCodes.append(code)
        }
        return SubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
    }

    private func lengths(version: ProtocolVersion) -> (remaining: Int, properties: Int) {
        var remaining = 2 + self.reasonCodes.count
        guard version == .v5 else { return (remaining, 0) }
        let propertiesLength = self.properties.encodedLength(for: .suback)
        remaining += propertiesLength.withPropertyLengthPrefix
        return (remaining, propertiesLength)
    }

    func encodedLength(version: ProtocolVersion) -> Int {
        FixedHeader.packetLength(remainingLength: self.lengths(version: version).remaining)
    }

    /// For 3.1.1 each code is written as 0x00–0x02, any other as 0x80 (failure).
    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws(MQTTError) {
        let (remaining, propertiesLength) = self.lengths(version: version)
        try FixedHeader.write(PacketType.suback.rawValue << 4, remainingLength: remaining, to: &buffer)
        buffer.writeInteger(self.packetIdentifier)
        switch version {
        case .v31, .v311:
            for code in self.reasonCodes {
                buffer.writeInteger(code.rawValue <= 0x02 ? code.rawValue : 0x80)
            }
        case .v5:
            try self.properties.write(to: &buffer, context: .suback, length: propertiesLength)
            for code in self.reasonCodes { buffer.writeInteger(code.rawValue) }
        }
    }
}
