import NIOCore

// Wire primitives of MQTT 5.0 §1.5. Readers return nil on short input and
// leave the reader index where it was; the packet decoders turn that nil into
// `.malformedPacket`.

/// The result of looking at a Variable Byte Integer that may not have fully arrived.
enum VariableByteIntegerPeek: Equatable {
    /// The value and how many bytes encode it.
    case value(UInt32, byteCount: Int)
    /// More bytes are needed.
    case incomplete
    /// A fourth byte still has its continuation bit set (MQTT 5.0 §1.5.5).
    case tooLong
}

/// The number of bytes a Variable Byte Integer takes for `value` (MQTT 5.0 §1.5.5).
@inline(__always)
func variableByteIntegerLength(_ value: Int) -> Int {
    switch value {
    case ..<128: return 1
    case ..<16_384: return 2
    case ..<2_097_152: return 3
    default: return 4
    }
}

/// The number of bytes a length-prefixed string or binary takes on the wire.
@inline(__always)
func lengthPrefixedLength(_ count: Int) -> Int { 2 + count }

/// Turns a short read into `.malformedPacket`.
@inline(__always)
func need<T>(_ value: T?, _ field: @autoclosure () -> String) throws(MQTTError) -> T {
    guard let value else { throw .malformed("packet ends inside \(field())") }
    return value
}

extension ByteBuffer {
    // MARK: Variable Byte Integer

    /// Looks at a Variable Byte Integer at `index` without moving the reader index.
    @inline(__always)
    func peekVariableByteInteger(at index: Int) -> VariableByteIntegerPeek {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        for offset in 0..<MQTTLimits.variableByteIntegerMaxBytes {
            guard let byte = self.getInteger(at: index + offset, as: UInt8.self) else { return .incomplete }
            value |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return .value(value, byteCount: offset + 1) }
            shift += 7
        }
        return .tooLong
    }

    /// Reads a Variable Byte Integer. Nil when the buffer ends inside it;
    /// throws `.malformedPacket` when it runs past four bytes.
    @inline(__always)
    mutating func readVariableByteInteger() throws(MQTTError) -> UInt32? {
        switch self.peekVariableByteInteger(at: self.readerIndex) {
        case .value(let value, let byteCount):
            self.moveReaderIndex(forwardBy: byteCount)
            return value
        case .incomplete:
            return nil
        case .tooLong:
            throw .malformed("variable byte integer longer than 4 bytes")
        }
    }

    /// Writes `value` as a Variable Byte Integer in the fewest bytes (MQTT 5.0 §1.5.5).
    /// `value` must not exceed `MQTTLimits.variableByteIntegerMax`.
    @discardableResult
    @inline(__always)
    mutating func writeVariableByteInteger(_ value: Int) -> Int {
        assert(value >= 0 && value <= Int(MQTTLimits.variableByteIntegerMax))
        if value < 128 {
            return self.writeInteger(UInt8(truncatingIfNeeded: value))
        }
        var remaining = value
        var written = 0
        repeat {
            var byte = UInt8(truncatingIfNeeded: remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            written += self.writeInteger(byte)
        } while remaining > 0
        return written
    }

    // MARK: UTF-8 strings and binary data

    /// Reads a UTF-8 Encoded String (MQTT 5.0 §1.5.4). Nil when the buffer is
    /// short; throws `.malformedPacket` when the bytes are not well-formed
    /// UTF-8 or contain U+0000.
    @inline(__always)
    mutating func readMQTTString() throws(MQTTError) -> String? {
        guard let length = self.getInteger(at: self.readerIndex, as: UInt16.self),
              self.readableBytes >= 2 + Int(length)
        else { return nil }
        let start = self.readerIndex + 2
        let valid = self.withUnsafeReadableBytes { bytes in
            MQTTUTF8.isValid(UnsafeRawBufferPointer(rebasing: bytes[2..<(2 + Int(length))]))
        }
        guard valid else { throw .malformed("string is not well-formed UTF-8 or contains U+0000") }
        let string = self.getString(at: start, length: Int(length))
        self.moveReaderIndex(forwardBy: 2 + Int(length))
        return string
    }

    /// Reads a UTF-8 Encoded String that names a topic, and reports whether it
    /// holds a `+` or `#`. Same failure rules as `readMQTTString()`.
    @inline(__always)
    mutating func readMQTTTopicName() throws(MQTTError) -> (name: String, hasWildcard: Bool)? {
        guard let length = self.getInteger(at: self.readerIndex, as: UInt16.self),
              self.readableBytes >= 2 + Int(length)
        else { return nil }
        let start = self.readerIndex + 2
        let (valid, hasWildcard) = self.withUnsafeReadableBytes { bytes in
            let topic = UnsafeRawBufferPointer(rebasing: bytes[2..<(2 + Int(length))])
            return (MQTTUTF8.isValid(topic), topic.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") })
        }
        guard valid else { throw .malformed("topic is not well-formed UTF-8 or contains U+0000") }
        let string = self.getString(at: start, length: Int(length))!
        self.moveReaderIndex(forwardBy: 2 + Int(length))
        return (string, hasWildcard)
    }

    /// Reads Binary Data (MQTT 5.0 §1.5.6) as a slice of this buffer (no copy).
    /// Nil when the buffer is short.
    @inline(__always)
    mutating func readMQTTBinary() -> ByteBuffer? {
        guard let length = self.getInteger(at: self.readerIndex, as: UInt16.self),
              self.readableBytes >= 2 + Int(length)
        else { return nil }
        self.moveReaderIndex(forwardBy: 2)
        return self.readSlice(length: Int(length))
    }

    /// Writes a UTF-8 Encoded String with its two-byte length. Throws
    /// `.malformedPacket` when it is longer than 65,535 bytes.
    @inline(__always)
    mutating func writeMQTTString(_ string: String, _ field: @autoclosure () -> String) throws(MQTTError) {
        let count = string.utf8.count
        guard count <= MQTTLimits.maximumStringLength else {
            throw .malformed("\(field()) is \(count) bytes, over the 65,535 a string may hold")
        }
        self.writeInteger(UInt16(truncatingIfNeeded: count))
        self.writeString(string)
    }

    /// Writes Binary Data with its two-byte length. Throws `.malformedPacket`
    /// when it is longer than 65,535 bytes.
    @inline(__always)
    mutating func writeMQTTBinary(_ binary: ByteBuffer, _ field: @autoclosure () -> String) throws(MQTTError) {
        let count = binary.readableBytes
        guard count <= MQTTLimits.maximumBinaryLength else {
            throw .malformed("\(field()) is \(count) bytes, over the 65,535 binary data may hold")
        }
        self.writeInteger(UInt16(truncatingIfNeeded: count))
        self.writeImmutableBuffer(binary)
    }

    /// Reads a packet identifier, which must be non-zero (MQTT 5.0 §2.2.1).
    /// Identifier 0 is a Protocol Error unless `zeroIsMalformed` (SUBSCRIBE and
    /// UNSUBSCRIBE, see docs/conformance.md).
    @inline(__always)
    mutating func readPacketIdentifier(zeroIsMalformed: Bool = false) throws(MQTTError) -> UInt16 {
        let identifier = try need(self.readInteger(as: UInt16.self), "packet identifier")
        guard identifier != 0 else {
            throw zeroIsMalformed ? .malformed("packet identifier is 0") : .protocolViolation("packet identifier is 0")
        }
        return identifier
    }
}

/// UTF-8 checks for MQTT strings (MQTT 5.0 §1.5.4).
enum MQTTUTF8 {
    /// True when `bytes` are well-formed UTF-8 (no overlong forms, no
    /// surrogates, nothing above U+10FFFF) and hold no U+0000.
    /// ASCII is checked eight bytes at a time.
    @inline(__always)
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            // Fast path: eight ASCII bytes at a time.
            while index + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { return false }
                index += 8
            }
            guard index < count else { return true }
            let lead = bytes[index]
            if lead < 0x80 {
                if lead == 0 { return false }
                index += 1
                continue
            }
            guard let length = Self.scalarLength(bytes, at: index, lead: lead) else { return false }
            index += length
        }
        return true
    }

    /// The length of the multi-byte scalar starting at `index`, or nil when
    /// it is ill-formed (Unicode Table 3-7).
    @inline(__always)
    private static func scalarLength(_ bytes: UnsafeRawBufferPointer, at index: Int, lead: UInt8) -> Int? {
        let count = bytes.count
        @inline(__always) func continuation(_ offset: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            let at = index + offset
            guard at < count else { return false }
            let byte = bytes[at]
            return byte >= low && byte <= high
        }
        switch lead {
        case 0xC2...0xDF:
            return continuation(1) ? 2 : nil
        case 0xE0:
            return continuation(1, 0xA0, 0xBF) && continuation(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return continuation(1) && continuation(2) ? 3 : nil
        case 0xED:
            return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : nil
        case 0xF0:
            return continuation(1, 0x90, 0xBF) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF4:
            return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : nil
        default:
            return nil
        }
    }
}
