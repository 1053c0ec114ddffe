import Hummingbird
import RelayCore
import RelayMedia

/// GET and HEAD of a complete blob, streamed from the store; one `Range`
/// (``ByteRangeRequest``) is answered 206.
enum DownloadHandler {
    static func serve(_ request: Request, id: String, endpoint: MediaEndpoint, head: Bool) async throws(MediaRefusal) -> Response {
        let claims = try endpoint.signer.verify(use: .download, id: id, query: MediaRoutes.query(of: request), now: endpoint.nowSeconds)
        guard let state = try await endpoint.store.state(of: claims.id), state.isComplete else {
            throw .notFound("no blob \(claims.id) here (never uploaded, not complete, or removed after its retention)")
        }
        let length = state.record.length
        var headers = HTTPFields()
        guard length > 0 else {
            headers[.contentLength] = "0"
            return Response(status: .ok, headers: headers)
        }
        headers[.contentType] = "application/octet-stream"
        headers[.acceptRanges] = "bytes"
        headers[.cacheControl] = "private, max-age=0"
        let first: UInt64
        let last: UInt64
        let status: HTTPResponse.Status
        switch ByteRangeRequest.resolve(request.headers[.range], length: length) {
        case .whole:
            (first, last, status) = (0, length - 1, .ok)
        case .partial(let a, let b):
            (first, last, status) = (a, b, .partialContent)
            headers[.contentRange] = "bytes \(a)-\(b)/\(length)"
        case .unsatisfiable:
            var refused = MediaRoutes.refusalResponse(.rangeNotSatisfiable("the range is outside the blob's \(length) bytes"), tus: false)
            refused.headers[.contentRange] = "bytes */\(length)"
            return refused
        }
        let count = last - first + 1
        headers[.contentLength] = "\(count)"
        if head { return Response(status: status, headers: headers) }
        let store = endpoint.store
        let blob = claims.id
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: Int(clamping: count)) { writer in
            try await store.read(blob, first: first, last: last) { chunk in
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        })
    }
}
