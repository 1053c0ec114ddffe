import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1 connections with ``SendfileHandler`` right after
/// the request decoder, so that plain blob downloads go out with
/// `sendfile(2)` (Hummingbird's response bodies are byte buffers only).
struct RegionHTTPChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let downloads: SendfileDownloads

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let downloads = self.downloads
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(SendfileHandler(downloads), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }

    /// A server builder of these connections.
    static func builder(_ downloads: SendfileDownloads) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            RegionHTTPChannel(inner: HTTP1Channel(responder: responder), downloads: downloads)
        }
    }
}
