/// A Redis Cluster hash slot: 0 through 16383.
///
/// A key's slot is CRC16 (XMODEM: polynomial 0x1021, initial value 0) of
/// its hash tag, or of the whole key when it has none, modulo 16384
/// (Redis Cluster specification, "Keys distribution model").
public struct HashSlot: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// How many slots a cluster has.
    public static let count = 16_384

    /// The slot number, below `HashSlot.count`.
    public let value: UInt16

    /// The slot `value`, or nil when it is not below `HashSlot.count`.
    public init?(_ value: Int) {
        guard value >= 0, value < Self.count, let slot = UInt16(exactly: value) else { return nil }
        self.value = slot
    }

    private init(unchecked value: UInt16) {
        self.value = value
    }

    /// The slot of a key given as bytes.
    public init<Bytes: Collection>(key: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        let hashed = Self.hashTag(of: key) ?? key[key.startIndex..<key.endIndex]
        self.init(unchecked: CRC16.xmodem(hashed) & UInt16(Self.count - 1))
    }

    /// The slot of a key given as text (its UTF-8 bytes).
    public init(key: String) {
        self.init(key: Array(key.utf8))
    }

    /// The hash tag of `key`: the bytes between its first `{` and the first
    /// `}` after it, when there is at least one byte between them; nil when
    /// the key has no such tag and is hashed whole.
    public static func hashTag<Bytes: Collection>(of key: Bytes) -> Bytes.SubSequence? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return nil }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close > afterOpen else { return nil }
        return key[afterOpen..<close]
    }

    public static func < (lhs: HashSlot, rhs: HashSlot) -> Bool { lhs.value < rhs.value }

    public var description: String { String(self.value) }
}

/// CRC16-CCITT in its XMODEM form, as Redis Cluster uses it (`crc16.c`).
enum CRC16 {
    private static let table: [UInt16] = (0..<256).map { byte in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }

    /// The CRC of `bytes`.
    static func xmodem<Bytes: Collection>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ Self.table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }
}
