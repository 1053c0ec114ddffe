/// Dictionary keys for topics and topic levels that compare and hash by
/// UTF-8 bytes.
///
/// `String` equality is canonical equivalence, so `"é"` written as U+00E9 and
/// as `e` + U+0301 compare equal. Subscription matching must not normalize
/// (MQTT 5.0 §4.7.3, [MQTT-4.7.3-4]), so the router's dictionaries use these
/// keys instead. They read the bytes of native strings in place.

/// A whole topic name or topic filter, as a dictionary key.
@usableFromInline
internal struct TopicKey: Hashable, Sendable {
    @usableFromInline
    internal let text: String

    @inlinable
    internal init(_ text: String) {
        self.text = text
    }

    @inlinable
    internal static func == (lhs: TopicKey, rhs: TopicKey) -> Bool {
        let equal = lhs.text.utf8.withContiguousStorageIfAvailable { left in
            rhs.text.utf8.withContiguousStorageIfAvailable { right in
                bytesEqual(left, right)
            }
        }
        if let equal, let equal {
            return equal
        }
        return lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    @inlinable
    internal func hash(into hasher: inout Hasher) {
        let hashed: Void? = self.text.utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
        if hashed == nil {
            Array(self.text.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}

/// One level of a topic name or topic filter, as a dictionary key.
///
/// It wraps a `Substring`, so a level sliced out of a topic becomes a key
/// without copying.
@usableFromInline
internal struct TopicLevel: Hashable, Sendable {
    @usableFromInline
    internal let text: Substring

    @inlinable
    internal init(_ text: Substring) {
        self.text = text
    }

    /// A level that owns a copy of its bytes, so storing it in a dictionary
    /// does not keep the longer string `text` was sliced from alive.
    @inlinable
    internal init(copying text: Substring) {
        self.text = Substring(String(text))
    }

    /// True when the level is the single byte `byte`, such as `+` or `#`.
    @inlinable
    internal func isSingleByte(_ byte: UInt8) -> Bool {
        let utf8 = self.text.utf8
        return utf8.first == byte && utf8.index(after: utf8.startIndex) == utf8.endIndex
    }

    /// True when the level starts with `$` (§4.7.2).
    @inlinable
    internal var startsWithDollar: Bool {
        self.text.utf8.first == UInt8(ascii: "$")
    }

    /// Calls `body` with the level's bytes, or returns nil when the string
    /// is not stored contiguously. Going through the base string is faster
    /// than `Substring.UTF8View.withContiguousStorageIfAvailable`.
    @inlinable
    internal func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result? {
        let base = self.text.base.utf8
        let start = base.distance(from: base.startIndex, to: self.text.startIndex)
        let end = base.distance(from: base.startIndex, to: self.text.endIndex)
        return base.withContiguousStorageIfAvailable { whole in
            body(UnsafeBufferPointer(rebasing: whole[start..<end]))
        }
    }

    @inlinable
    internal static func == (lhs: TopicLevel, rhs: TopicLevel) -> Bool {
        let equal = lhs.withBytes { left in
            rhs.withBytes { right in
                bytesEqual(left, right)
            }
        }
        if let equal, let equal {
            return equal
        }
        return lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    @inlinable
    internal func hash(into hasher: inout Hasher) {
        let hashed: Void? = self.withBytes { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
        if hashed == nil {
            Array(self.text.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}

/// True when the two buffers hold the same bytes.
@inlinable
internal func bytesEqual(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Bool {
    let count = left.count
    guard count == right.count else { return false }
    guard count > 0, let leftBase = left.baseAddress, let rightBase = right.baseAddress else { return true }
    let leftBytes = UnsafeRawPointer(leftBase)
    let rightBytes = UnsafeRawPointer(rightBase)
    var offset = 0
    while offset + 8 <= count {
        let leftWord = leftBytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        let rightWord = rightBytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        if leftWord != rightWord {
            return false
        }
        offset += 8
    }
    while offset < count {
        if leftBytes.load(fromByteOffset: offset, as: UInt8.self) != rightBytes.load(fromByteOffset: offset, as: UInt8.self) {
            return false
        }
        offset += 1
    }
    return true
}
