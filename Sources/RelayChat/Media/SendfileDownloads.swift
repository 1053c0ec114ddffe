import CoreMetrics
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import RelayCore
import RelayMedia

/// Whole-blob and ranged GETs of complete blobs in the filesystem store,
/// answered with `sendfile(2)` (NIO's `FileRegion`) instead of copying the
/// blob through the process a chunk at a time (BENCHMARKS.md, "Media").
/// Only the plain case is taken here: a GET of `/media/v1/blob/<id>` whose
/// signature verifies, whose range (if any) is satisfiable, and whose blob
/// file opens; everything else (HEAD, refusals, a missing blob, another
/// store) goes on to the Hummingbird routes, which answer as before.
package struct SendfileDownloads: Sendable {
    /// Verifies the URLs.
    let signer: MediaURLSigner
    /// The filesystem store's directory (`<mediaDir>/<region>`).
    let root: String
    /// Unix seconds now.
    let now: @Sendable () -> Int64
    /// Opens files off the event loop.
    let files = NonBlockingFileIO(threadPool: .singleton)
    /// Downloads answered with sendfile(2).
    let served = Counter(label: "relay_media_sendfile_downloads_total")

    /// Downloads of the files under `root` whose URLs `signer` verifies.
    package init(signer: MediaURLSigner, root: String, now: @escaping @Sendable () -> Int64) {
        self.signer = signer
        self.root = root
        self.now = now
    }

    /// A GET this path may answer: the blob and the `Range` header.
    struct Candidate: Sendable, Equatable {
        var id: MediaID
        var range: String?
    }

    /// The candidate in `head`, or nil when the Hummingbird routes answer it.
    func candidate(_ head: HTTPRequestHead) -> Candidate? {
        guard head.method == .GET else { return nil }
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let prefix = "/media/v1/blob/"
        guard let path = parts.first, path.hasPrefix(prefix), parts.count == 2 else { return nil }
        var query: [String: String] = [:]
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, let key = String(kv[0]).removingPercentEncoding,
                  let value = String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                  query[key] == nil
            else { return nil }
            query[key] = value
        }
        guard let claims = try? signer.verify(use: .download, id: String(path.dropFirst(prefix.count)), query: query, now: now()) else {
            return nil
        }
        let ranges = head.headers["Range"]
        guard ranges.count <= 1 else { return nil }
        return Candidate(id: claims.id, range: ranges.first)
    }

    /// The blob's file opened with its whole region (on the thread pool).
    func open(_ id: MediaID, on loop: any EventLoop) -> EventLoopFuture<(NIOFileHandle, FileRegion)> {
        files.openFile(_deprecatedPath: "\(root)/blobs/\(id.rawValue)", eventLoop: loop)
    }

    /// The response head for `length` bytes and `range`: nil when the
    /// routes must answer (an empty blob, an unsatisfiable range).
    static func response(length: UInt64, range: String?, version: HTTPVersion, keepAlive: Bool)
        -> (head: HTTPResponseHead, first: UInt64, last: UInt64)? {
        guard length > 0 else { return nil }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Accept-Ranges", value: "bytes")
        headers.add(name: "Cache-Control", value: "private, max-age=0")
        let first: UInt64
        let last: UInt64
        let status: HTTPResponseStatus
        switch ByteRangeRequest.resolve(range, length: length) {
        case .whole:
            (first, last, status) = (0, length - 1, .ok)
        case .partial(let a, let b):
            (first, last, status) = (a, b, .partialContent)
            headers.add(name: "Content-Range", value: "bytes \(a)-\(b)/\(length)")
        case .unsatisfiable:
            return nil
        }
        headers.add(name: "Content-Length", value: "\(last - first + 1)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        return (HTTPResponseHead(version: version, status: status, headers: headers), first, last)
    }
}

/// Sits right after NIO's HTTP/1 request decoder on the media listener's
/// connections (``RegionHTTPChannel``): answers the GETs
/// ``SendfileDownloads`` takes with a `FileRegion`, and passes every other
/// request on untouched. It only takes a request while none is in flight
/// through the routes (responses stay in order), and while it answers it
/// neither reads nor passes on anything (pipelined requests wait).
final class SendfileHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let downloads: SendfileDownloads
    /// Requests passed on whose response has not ended.
    private var passedOn = 0
    /// Answering a request here: inbound parts wait, reads are held.
    private var serving = false
    /// Skipping the rest (body, end) of the request answered here.
    private var skipping = false
    private var waiting: [HTTPServerRequestPart] = []
    private var readHeld = false

    init(_ downloads: SendfileDownloads) {
        self.downloads = downloads
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if serving {
            waiting.append(part)
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            skipping = false
            if passedOn == 0, let candidate = downloads.candidate(head) {
                serve(head, candidate, context: context)
                return
            }
            passedOn += 1
            context.fireChannelRead(wrapInboundOut(part))
        case .body, .end:
            if skipping {
                if case .end = part { skipping = false }
                return
            }
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { passedOn = max(0, passedOn - 1) }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        if serving {
            readHeld = true
            return
        }
        context.read()
    }

    private func serve(_ head: HTTPRequestHead, _ candidate: SendfileDownloads.Candidate, context: ChannelHandlerContext) {
        serving = true
        skipping = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        downloads.open(candidate.id, on: context.eventLoop).hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let (file, region)):
                guard let answer = SendfileDownloads.response(length: UInt64(region.readableBytes), range: candidate.range,
                                                              version: head.version, keepAlive: head.isKeepAlive) else {
                    try? file.close()
                    handler.passOn(head, context: context)
                    return
                }
                let slice = FileRegion(fileHandle: file, readerIndex: Int(answer.first), endIndex: Int(answer.last) + 1)
                context.write(handler.wrapOutboundOut(.head(answer.head)), promise: nil)
                context.write(handler.wrapOutboundOut(.body(.fileRegion(slice))), promise: nil)
                let sent = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: sent)
                sent.futureResult.whenComplete { result in
                    let (handler, context) = loopBound.value
                    try? file.close()
                    if case .failure = result { context.close(promise: nil); return }
                    handler.downloads.served.increment()
                    if !head.isKeepAlive { context.close(promise: nil); return }
                    handler.resume(context: context)
                }
            case .failure:
                // Not there (never uploaded, not complete, removed): the routes say so.
                handler.passOn(head, context: context)
            }
        }
    }

    /// Gives the request to the routes after all (with its parts that waited).
    private func passOn(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        skipping = false
        passedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
        resume(context: context)
    }

    /// Handles what waited and reads on.
    private func resume(context: ChannelHandlerContext) {
        serving = false
        while !serving, !waiting.isEmpty {
            handle(waiting.removeFirst(), context: context)
        }
        // Outside a read cycle: the routes' channel takes parts in at a read-complete.
        context.fireChannelReadComplete()
        if !serving && readHeld {
            readHeld = false
            context.read()
        }
    }
}

@available(*, unavailable)
extension SendfileHandler: Sendable {}
