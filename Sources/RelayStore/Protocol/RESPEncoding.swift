import CHiredis
import NIOCore

extension RedisCommand {
    /// Appends this command to `buffer` as a RESP array of bulk strings,
    /// formatted by hiredis's `redisFormatCommandArgv` (a pure function: no
    /// socket), so any bytes are safe in any argument. Throws `.protocol`
    /// only when hiredis cannot allocate.
    func encode(into buffer: inout ByteBuffer) throws(RedisError) {
        var storage: [UInt8] = []
        var lengths: [Int] = []
        lengths.reserveCapacity(self.arguments.count + 1)
        storage.append(contentsOf: self.name.utf8)
        lengths.append(storage.count)
        for argument in self.arguments {
            let before = storage.count
            switch argument {
            case .string(let string): storage.append(contentsOf: string.utf8)
            case .bytes(let bytes): storage.append(contentsOf: bytes.readableBytesView)
            case .integer(let value): storage.append(contentsOf: String(value).utf8)
            }
            lengths.append(storage.count - before)
        }
        // hiredis reads every argv entry, so give the (possibly empty)
        // storage at least one byte to point into.
        if storage.isEmpty { storage.reserveCapacity(1) }
        var formatted: UnsafeMutablePointer<CChar>? = nil
        let length: Int32 = storage.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress.map({ UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }) else { return -1 }
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(lengths.count)
            var offset = 0
            for length in lengths {
                pointers.append(base + offset)
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisFormatCommandArgv(&formatted, Int32(argv.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
        guard length >= 0, let formatted else {
            throw RedisError(.protocol, message: "cannot format \(self.name)")
        }
        defer { redisFreeCommand(formatted) }
        buffer.writeBytes(UnsafeRawBufferPointer(start: formatted, count: Int(length)))
    }
}
