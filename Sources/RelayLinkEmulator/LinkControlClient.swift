import NIOCore
import NIOPosix
import RelayOps

/// Sends one control line to a delay proxy and prints its one-line reply.
package enum LinkControlClient {
    /// How long the whole exchange may take.
    static let timeout = TimeAmount.seconds(5)

    package static func send(_ command: LinkControlCommand, to control: HostPort) async throws {
        let reply = try await exchange(command.line, with: control)
        if reply.hasPrefix("error") { throw RelayCtlError("\(control): \(reply)") }
        StandardOutput.writeLine(reply)
    }

    /// Sends `line` to the proxy's control listener at `control` and returns its one-line reply.
    package static func exchange(_ line: String, with control: HostPort) async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .connect(host: control.host, port: control.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw RelayCtlError("cannot reach the link proxy's control listener at \(control): \(error); is relayctl link proxy running with --control \(control)?")
        }
        let deadline = group.next().scheduleTask(in: timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: line + "\n"))
            var received: [UInt8] = []
            for try await var chunk in inbound {
                received += chunk.readBytes(length: chunk.readableBytes) ?? []
                if let newline = received.firstIndex(of: UInt8(ascii: "\n")) {
                    return String(decoding: received[..<newline], as: UTF8.self)
                }
            }
            throw RelayCtlError("\(control) closed the connection without a reply")
        }
    }
}
