/// Reads a fuzz input as a few structured choices followed by a payload.
/// Reading past the end gives zeros and empty byte strings, so every input
/// decodes to something.
public struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    /// The input's bytes, to be read from the front.
    public init(_ raw: UnsafeRawBufferPointer) {
        self.bytes = Array(raw)[...]
    }

    /// The next byte, or 0 at the end.
    public mutating func byte() -> UInt8 {
        bytes.popFirst() ?? 0
    }

    /// One of `options`, chosen by the next byte.
    public mutating func pick<T>(_ options: [T]) -> T {
        options[Int(byte()) % options.count]
    }

    /// A length byte, then that many bytes (fewer at the end).
    public mutating func chunk() -> [UInt8] {
        let count = Int(byte())
        let chunk = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return Array(chunk)
    }

    /// The next 8 bytes as a little-endian integer (missing bytes are 0):
    /// libFuzzer's comparison tracing finds the constants a check compares
    /// such a value with, which it cannot do for a protobuf varint.
    public mutating func uint64() -> UInt64 {
        (0..<8).reduce(0) { value, index in value | UInt64(byte()) << (8 * UInt64(index)) }
    }

    /// Everything not read yet.
    public mutating func rest() -> [UInt8] {
        defer { bytes = [] }
        return Array(bytes)
    }
}

/// Builds seed inputs in the layout ``FuzzInput`` reads.
public struct FuzzSeed {
    /// The bytes so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty seed.
    public init() {}

    /// Appends one choice byte.
    public mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    /// Appends a chunk: its length, then its bytes (at most 255).
    public mutating func chunk(_ value: some Collection<UInt8>) {
        precondition(value.count < 256, "a chunk holds at most 255 bytes")
        bytes.append(UInt8(value.count))
        bytes += value
    }

    /// Appends the payload (the rest).
    public mutating func rest(_ value: some Collection<UInt8>) {
        bytes += value
    }
}
