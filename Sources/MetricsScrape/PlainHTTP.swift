import NIOCore
import NIOPosix

/// The smallest HTTP/1.1 client that reads an operability endpoint
/// (`/metrics`, `/readyz`) of a relay: one GET per connection, with
/// `Connection: close`.
public enum PlainHTTP {
    /// GETs `path` from `host:port` and returns the body, complete by its
    /// Content-Length or at the end of the stream. Fails when the server
    /// does not accept within `connectTimeout`; the connection is closed
    /// after `timeout` whatever happens.
    public static func get(
        _ path: String, host: String, port: Int,
        connectTimeout: TimeAmount = .milliseconds(500), timeout: TimeAmount = .seconds(2),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> String {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n"))
            var received: [UInt8] = []
            for try await var chunk in inbound {
                received += chunk.readBytes(length: chunk.readableBytes) ?? []
                if let body = completeBody(received) { return body }
            }
            return completeBody(received, atEnd: true) ?? ""
        }
    }

    /// The body once the response is complete (by Content-Length, or at the end of the stream).
    static func completeBody(_ bytes: [UInt8], atEnd: Bool = false) -> String? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        let body = bytes[(end + 4)...]
        if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).drop(while: { $0 == " " || $0 == "\t" })) {
            return body.count >= length ? String(decoding: body.prefix(length), as: UTF8.self) : nil
        }
        return atEnd ? String(decoding: body, as: UTF8.self) : nil
    }
}
