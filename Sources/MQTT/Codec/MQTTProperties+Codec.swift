import NIOCore

/// Which properties a packet may carry (MQTT 5.0 §2.2.2.2, table 2-4), as a
/// bit set over the property identifiers.
struct PropertyContext: Sendable {
    /// Bit `n` is set when property identifier `n` is allowed.
    let allowed: UInt64
    /// Bit `n` is set when property identifier `n` may appear more than once.
    let repeatable: UInt64
    /// The packet name for diagnostics.
    let name: StaticString

    /// User Property is allowed, and may repeat, everywhere.
    init(_ name: StaticString, _ identifiers: [PropertyIdentifier], repeatable: [PropertyIdentifier] = []) {
        self.name = name
        var mask: UInt64 = 1 << UInt64(PropertyIdentifier.userProperty.rawValue)
        for identifier in identifiers { mask |= 1 << UInt64(identifier.rawValue) }
        self.allowed = mask
        var repeatableMask: UInt64 = 1 << UInt64(PropertyIdentifier.userProperty.rawValue)
        for identifier in repeatable { repeatableMask |= 1 << UInt64(identifier.rawValue) }
        self.repeatable = repeatableMask
    }

    @inline(__always)
    func allows(_ identifier: PropertyIdentifier) -> Bool {
        self.allowed & (1 << UInt64(identifier.rawValue)) != 0
    }

    static let connect = PropertyContext("CONNECT", [
        .sessionExpiryInterval, .authenticationMethod, .authenticationData, .requestProblemInformation,
        .requestResponseInformation, .receiveMaximum, .topicAliasMaximum, .maximumPacketSize,
    ])
    static let connack = PropertyContext("CONNACK", [
        .sessionExpiryInterval, .assignedClientIdentifier, .serverKeepAlive, .authenticationMethod,
        .authenticationData, .responseInformation, .serverReference, .reasonString, .receiveMaximum,
        .topicAliasMaximum, .maximumQoS, .retainAvailable, .maximumPacketSize, .wildcardSubscriptionAvailable,
        .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable,
    ])
    static let publish = PropertyContext("PUBLISH", [
        .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData,
        .subscriptionIdentifier, .topicAlias,
    ], repeatable: [.subscriptionIdentifier])
    static let will = PropertyContext("Will", [
        .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData,
        .willDelayInterval,
    ])
    static let ack = PropertyContext("acknowledgement", [.reasonString])
    static let subscribe = PropertyContext("SUBSCRIBE", [.subscriptionIdentifier])
    static let suback = PropertyContext("SUBACK", [.reasonString])
    static let unsubscribe = PropertyContext("UNSUBSCRIBE", [])
    static let unsuback = PropertyContext("UNSUBACK", [.reasonString])
    static let disconnect = PropertyContext("DISCONNECT", [.sessionExpiryInterval, .serverReference, .reasonString])
    static let auth = PropertyContext("AUTH", [.authenticationMethod, .authenticationData, .reasonString])
}

extension MQTTProperties {
    // MARK: Decoding

    /// Reads a Property Length and the properties it covers, checking that
    /// each is allowed in `context` and appears at most once where the
    /// standard says so.
    static func read(from buffer: inout ByteBuffer, context: PropertyContext) throws(MQTTError) -> MQTTProperties {
        let length = try need(buffer.readVariableByteInteger(), "property length")
        guard length > 0 else { return MQTTProperties() }
        guard Int(length) <= buffer.readableBytes else {
            throw .malformed("property length \(length) exceeds the \(buffer.readableBytes) bytes left in \(context.name)")
        }
        var slice = buffer.readSlice(length: Int(length))!
        return try Self.readProperties(from: &slice, context: context)
    }

    private static func readProperties(from buffer: inout ByteBuffer, context: PropertyContext) throws(MQTTError) -> MQTTProperties {
        var properties = MQTTProperties()
        var seen: UInt64 = 0
        while buffer.readableBytes > 0 {
            let rawIdentifier = try need(buffer.readVariableByteInteger(), "property identifier")
            guard rawIdentifier <= UInt8.max, let identifier = PropertyIdentifier(rawValue: UInt8(rawIdentifier)) else {
                throw .malformed("unknown property identifier 0x\(String(rawIdentifier, radix: 16))")
            }
            guard context.allows(identifier) else {
                throw .protocolViolation("property \(identifier) is not allowed in \(context.name)")
            }
            let bit: UInt64 = 1 << UInt64(identifier.rawValue)
            if seen & bit != 0 && context.repeatable & bit == 0 {
                throw .protocolViolation("property \(identifier) appears more than once in \(context.name)")
            }
            seen |= bit
            try properties.readValue(of: identifier, from: &buffer)
        }
        return properties
    }

    private mutating func readValue(of identifier: PropertyIdentifier, from buffer: inout ByteBuffer) throws(MQTTError) {
        func byte() throws(MQTTError) -> UInt8 { try need(buffer.readInteger(as: UInt8.self), "\(identifier)") }
        func flag() throws(MQTTError) -> UInt8 {
            let value = try byte()
            guard value <= 1 else { throw .protocolViolation("property \(identifier) is \(value), not 0 or 1") }
            return value
        }
        func two() throws(MQTTError) -> UInt16 { try need(buffer.readInteger(as: UInt16.self), "\(identifier)") }
        func four() throws(MQTTError) -> UInt32 { try need(buffer.readInteger(as: UInt32.self), "\(identifier)") }
        func string() throws(MQTTError) -> String { try need(buffer.readMQTTString(), "\(identifier)") }
        func binary() throws(MQTTError) -> ByteBuffer { try need(buffer.readMQTTBinary(), "\(identifier)") }

        switch identifier {
        case .payloadFormatIndicator: self.payloadFormatIndicator = try flag()
        case .messageExpiryInterval: self.messageExpiryInterval = try four()
        case .contentType: self.contentType = try string()
        case .responseTopic:
            // A Response Topic is a topic name: no wildcards (MQTT 5.0 §3.3.2.3.5).
            let (topic, hasWildcard) = try need(buffer.readMQTTTopicName(), "\(identifier)")
            guard !hasWildcard else { throw .protocolViolation("response topic holds a wildcard") }
            self.responseTopic = topic
        case .correlationData: self.correlationData = try binary()
        case .subscriptionIdentifier:
            let value = try need(buffer.readVariableByteInteger(), "\(identifier)")
            guard value != 0 else { throw .protocolViolation("subscription identifier is 0") }
            self.subscriptionIdentifiers.append(value)
        case .sessionExpiryInterval: self.sessionExpiryInterval = try four()
        case .assignedClientIdentifier: self.assignedClientIdentifier = try string()
        case .serverKeepAlive: self.serverKeepAlive = try two()
        case .authenticationMethod: self.authenticationMethod = try string()
        case .authenticationData: self.authenticationData = try binary()
        case .requestProblemInformation: self.requestProblemInformation = try flag()
        case .willDelayInterval: self.willDelayInterval = try four()
        case .requestResponseInformation: self.requestResponseInformation = try flag()
        case .responseInformation: self.responseInformation = try string()
        case .serverReference: self.serverReference = try string()
        case .reasonString: self.reasonString = try string()
        case .receiveMaximum:
            let value = try two()
            guard value != 0 else { throw .protocolViolation("receive maximum is 0") }
            self.receiveMaximum = value
        case .topicAliasMaximum: self.topicAliasMaximum = try two()
        case .topicAlias:
            let value = try two()
            guard value != 0 else { throw MQTTError(.topicAliasInvalid, "topic alias is 0") }
            self.topicAlias = value
        case .maximumQoS: self.maximumQoS = try flag()
        case .retainAvailable: self.retainAvailable = try flag()
        case .userProperty:
            guard self.userProperties.count < MQTTLimits.maximumUserProperties else {
                throw .protocolViolation("more than \(MQTTLimits.maximumUserProperties) user properties")
            }
            let name = try string()
            let value = try string()
            self.userProperties.append(UserProperty(name: name, value: value))
        case .maximumPacketSize:
            let value = try four()
            guard value != 0 else { throw .protocolViolation("maximum packet size is 0") }
            self.maximumPacketSize = value
        case .wildcardSubscriptionAvailable: self.wildcardSubscriptionAvailable = try flag()
        case .subscriptionIdentifierAvailable: self.subscriptionIdentifierAvailable = try flag()
        case .sharedSubscriptionAvailable: self.sharedSubscriptionAvailable = try flag()
        }
    }

    // MARK: Encoding

    /// The number of bytes of the properties allowed in `context` (without
    /// the Property Length itself). Properties the packet may not carry are
    /// not counted, and not written.
    @inline(__always)
    func encodedLength(for context: PropertyContext) -> Int {
        var length = 0
        @inline(__always) func add(_ identifier: PropertyIdentifier, _ present: Bool, _ size: @autoclosure () -> Int) {
            if present && context.allows(identifier) { length += 1 + size() }
        }
        add(.payloadFormatIndicator, self.payloadFormatIndicator != nil, 1)
        add(.messageExpiryInterval, self.messageExpiryInterval != nil, 4)
        add(.contentType, self.contentType != nil, lengthPrefixedLength(self.contentType!.utf8.count))
        add(.responseTopic, self.responseTopic != nil, lengthPrefixedLength(self.responseTopic!.utf8.count))
        add(.correlationData, self.correlationData != nil, lengthPrefixedLength(self.correlationData!.readableBytes))
        if !self.subscriptionIdentifiers.isEmpty && context.allows(.subscriptionIdentifier) {
            for identifier in self.subscriptionIdentifiers {
                length += 1 + variableByteIntegerLength(Int(identifier))
            }
        }
        add(.sessionExpiryInterval, self.sessionExpiryInterval != nil, 4)
        add(.assignedClientIdentifier, self.assignedClientIdentifier != nil,
            lengthPrefixedLength(self.assignedClientIdentifier!.utf8.count))
        add(.serverKeepAlive, self.serverKeepAlive != nil, 2)
        add(.authenticationMethod, self.authenticationMethod != nil,
            lengthPrefixedLength(self.authenticationMethod!.utf8.count))
        add(.authenticationData, self.authenticationData != nil,
            lengthPrefixedLength(self.authenticationData!.readableBytes))
        add(.requestProblemInformation, self.requestProblemInformation != nil, 1)
        add(.willDelayInterval, self.willDelayInterval != nil, 4)
        add(.requestResponseInformation, self.requestResponseInformation != nil, 1)
        add(.responseInformation, self.responseInformation != nil,
            lengthPrefixedLength(self.responseInformation!.utf8.count))
        add(.serverReference, self.serverReference != nil, lengthPrefixedLength(self.serverReference!.utf8.count))
        add(.reasonString, self.reasonString != nil, lengthPrefixedLength(self.reasonString!.utf8.count))
        add(.receiveMaximum, self.receiveMaximum != nil, 2)
        add(.topicAliasMaximum, self.topicAliasMaximum != nil, 2)
        add(.topicAlias, self.topicAlias != nil, 2)
        add(.maximumQoS, self.maximumQoS != nil, 1)
        add(.retainAvailable, self.retainAvailable != nil, 1)
        if !self.userProperties.isEmpty {
            for property in self.userProperties {
                length += 1 + lengthPrefixedLength(property.name.utf8.count) + lengthPrefixedLength(property.value.utf8.count)
            }
        }
        add(.maximumPacketSize, self.maximumPacketSize != nil, 4)
        add(.wildcardSubscriptionAvailable, self.wildcardSubscriptionAvailable != nil, 1)
        add(.subscriptionIdentifierAvailable, self.subscriptionIdentifierAvailable != nil, 1)
        add(.sharedSubscriptionAvailable, self.sharedSubscriptionAvailable != nil, 1)
        return length
    }

    /// Writes the Property Length and the properties allowed in `context`;
    /// `length` is `encodedLength(for: context)`.
    @inline(__always)
    func write(to buffer: inout ByteBuffer, context: PropertyContext, length: Int) throws(MQTTError) {
        buffer.writeVariableByteInteger(length)
        guard length > 0 else { return }
        try self.writeProperties(to: &buffer, context: context)
    }

    private func writeProperties(to buffer: inout ByteBuffer, context: PropertyContext) throws(MQTTError) {
        @inline(__always) func id(_ identifier: PropertyIdentifier) -> Bool {
            guard context.allows(identifier) else { return false }
            buffer.writeInteger(identifier.rawValue)
            return true
        }
        if let value = self.payloadFormatIndicator, id(.payloadFormatIndicator) { buffer.writeInteger(value) }
        if let value = self.messageExpiryInterval, id(.messageExpiryInterval) { buffer.writeInteger(value) }
        if let value = self.contentType, id(.contentType) { try buffer.writeMQTTString(value, "content type") }
        if let value = self.responseTopic, id(.responseTopic) { try buffer.writeMQTTString(value, "response topic") }
        if let value = self.correlationData, id(.correlationData) { try buffer.writeMQTTBinary(value, "correlation data") }
        if context.allows(.subscriptionIdentifier) {
            for value in self.subscriptionIdentifiers {
                guard value <= MQTTLimits.maximumSubscriptionIdentifier else {
                    throw .malformed("subscription identifier \(value) does not fit a variable byte integer")
                }
                buffer.writeInteger(PropertyIdentifier.subscriptionIdentifier.rawValue)
                buffer.writeVariableByteInteger(Int(value))
            }
        }
        if let value = self.sessionExpiryInterval, id(.sessionExpiryInterval) { buffer.writeInteger(value) }
        if let value = self.assignedClientIdentifier, id(.assignedClientIdentifier) {
            try buffer.writeMQTTString(value, "assigned client identifier")
        }
        if let value = self.serverKeepAlive, id(.serverKeepAlive) { buffer.writeInteger(value) }
        if let value = self.authenticationMethod, id(.authenticationMethod) {
            try buffer.writeMQTTString(value, "authentication method")
        }
        if let value = self.authenticationData, id(.authenticationData) {
            try buffer.writeMQTTBinary(value, "authentication data")
        }
        if let value = self.requestProblemInformation, id(.requestProblemInformation) { buffer.writeInteger(value) }
        if let value = self.willDelayInterval, id(.willDelayInterval) { buffer.writeInteger(value) }
        if let value = self.requestResponseInformation, id(.requestResponseInformation) { buffer.writeInteger(value) }
        if let value = self.responseInformation, id(.responseInformation) {
            try buffer.writeMQTTString(value, "response information")
        }
        if let value = self.serverReference, id(.serverReference) { try buffer.writeMQTTString(value, "server reference") }
        if let value = self.reasonString, id(.reasonString) { try buffer.writeMQTTString(value, "reason string") }
        if let value = self.receiveMaximum, id(.receiveMaximum) { buffer.writeInteger(value) }
        if let value = self.topicAliasMaximum, id(.topicAliasMaximum) { buffer.writeInteger(value) }
        if let value = self.topicAlias, id(.topicAlias) { buffer.writeInteger(value) }
        if let value = self.maximumQoS, id(.maximumQoS) { buffer.writeInteger(value) }
        if let value = self.retainAvailable, id(.retainAvailable) { buffer.writeInteger(value) }
        for property in self.userProperties {
            buffer.writeInteger(PropertyIdentifier.userProperty.rawValue)
            try buffer.writeMQTTString(property.name, "user property name")
            try buffer.writeMQTTString(property.value, "user property value")
        }
        if let value = self.maximumPacketSize, id(.maximumPacketSize) { buffer.writeInteger(value) }
        if let value = self.wildcardSubscriptionAvailable, id(.wildcardSubscriptionAvailable) {
            buffer.writeInteger(value)
        }
        if let value = self.subscriptionIdentifierAvailable, id(.subscriptionIdentifierAvailable) {
            buffer.writeInteger(value)
        }
        if let value = self.sharedSubscriptionAvailable, id(.sharedSubscriptionAvailable) {
            buffer.writeInteger(value)
        }
    }
}
