import MQTT
import NIOCore
import NIOEmbedded
import Testing

@testable import MQTTServer

/// Layer 2: server MUSTs of MQTT 3.1.1 and 5.0 decided where the handler
/// decodes CONNECT (docs/conformance.md maps every statement to its tests).
extension ConnectionHandlerTests {
    /// 3.1.1 [MQTT-3.1.3-9]: a client identifier the server rejects gets
    /// CONNACK return code 2, also when it is refused while decoding (longer
    /// than the server's limit); 5.0 gets 0x85 ([MQTT-3.1.3-8]).
    @Test(arguments: [ProtocolVersion.v311, .v5])
    func overlongClientIdentifierIsRejectedWithItsCode(version: ProtocolVersion) throws {
        let c = try client(version)
        let id = String(repeating: "x", count: MQTTLimits.maximumClientIdentifierLength + 1)
        try c.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: id)))
        loop.run()
        var bytes = ByteBuffer()
        while var chunk = try c.channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
        let expected: [UInt8] = version == .v5 ? [0x20, 0x03, 0x00, 0x85, 0x00] : [0x20, 0x02, 0x00, 0x02]
        #expect(Array(bytes.readableBytesView) == expected)
        #expect(!c.isOpen)
    }
}
