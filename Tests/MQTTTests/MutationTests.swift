import MQTT
import NIOCore
import Testing

/// Hostile input: valid packets with bytes flipped, cut or added. Decoding
/// must either throw an `MQTTError` or give a packet that round-trips.
@Suite("Mutated input")
struct MutationTests {
    @Test(arguments: [ProtocolVersion.v311, .v5])
    func mutatedPacketsNeverCrash(version: ProtocolVersion) throws {
        let (stream, _) = try FramerTests.stream(version: version)
        var seeds: [[UInt8]] = []
        var source = stream
        while let frame = try MQTTFramer.readFrame(from: &source, maximumPacketSize: .max) {
            guard frame.body.readableBytes < 300 else { continue }
            var whole = ByteBuffer()
            try MQTTPacket.decode(frame, version: version).write(to: &whole, version: version)
            seeds.append(Array(whole.readableBytesView))
        }
        var random = SplitMix64(seed: 0xC0DEC)
        var decodedCount = 0
        for iteration in 0..<20_000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0: // flip a byte
                    let index = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[index] = UInt8.random(in: 0...255, using: &random)
                case 1: // cut the end
                    bytes.removeLast(Int.random(in: 0..<bytes.count, using: &random))
                case 2: // insert a byte
                    bytes.insert(UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0...bytes.count, using: &random))
                default: // fix up the Remaining Length to the new size, when it fits in one byte
                    if bytes.count >= 2 && bytes.count - 2 < 128 { bytes[1] = UInt8(bytes.count - 2) }
                }
                if bytes.isEmpty { bytes = [0xC0] }
            }
            var input = ByteBuffer(bytes: bytes)
            do {
                while let frame = try MQTTFramer.readFrame(from: &input, maximumPacketSize: 1000) {
                    let packet = try MQTTPacket.decode(frame, version: version)
                    decodedCount += 1
                    let versionForWrite: ProtocolVersion
                    if case .connect(let connect) = packet { versionForWrite = connect.protocolVersion } else { versionForWrite = version }
                    var out = ByteBuffer()
                    try packet.write(to: &out, version: versionForWrite)
                    #expect(out.readableBytes == packet.encodedLength(version: versionForWrite))
                    let again = try #require(try MQTTFramer.readFrame(from: &out, maximumPacketSize: .max))
                    #expect(try MQTTPacket.decode(again, version: version) == packet, "\(bytes)")
                }
            } catch let error as MQTTError {
                _ = error.reasonCode
            }
        }
        #expect(decodedCount > 0)
    }
}
