import NIOCore
import NIOHTTP1

/// Serves `OpsEndpoints` on one HTTP/1.1 connection (after NIO's server
/// pipeline, which orders pipelined requests). Requests are bounded: a
/// target longer than `maximumURIBytes` gets 414 and a body longer than
/// `maximumBodyBytes` gets 413, and the connection is then closed.
final class OpsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Longest request target accepted.
    static let maximumURIBytes = 2048
    /// Largest request body accepted (none of the endpoints reads one).
    static let maximumBodyBytes = 4096

    private let endpoints: OpsEndpoints
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(endpoints: OpsEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            guard let head else { return }
            self.head = nil
            if head.uri.utf8.count > Self.maximumURIBytes {
                write(.text(.uriTooLong, "request target too long\n"), head: head, close: true, context: context)
            } else if bodyBytes > Self.maximumBodyBytes {
                write(.text(.payloadTooLarge, "request body too large\n"), head: head, close: true, context: context)
            } else {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                endpoints.respond(method: head.method, uri: head.uri, on: context.eventLoop)
                    .hop(to: context.eventLoop)
                    .whenSuccess { response in
                        let (handler, context) = bound.value
                        handler.write(response, head: head, close: !head.isKeepAlive, context: context)
                    }
            }
        }
    }

    private func write(_ response: OpsResponse, head request: HTTPRequestHead, close: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        if close { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension OpsHTTPHandler: Sendable {}
