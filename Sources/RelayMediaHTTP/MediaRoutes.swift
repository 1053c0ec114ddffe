import HTTPTypes
import Hummingbird
import RelayCore
import RelayMedia

/// The media routes of a region's HTTP listener (docs/media.md):
///
/// - `OPTIONS /media/v1/upload/{id}`: tus discovery (no signature needed);
/// - `POST /media/v1/upload/{id}?…`: tus creation (`Upload-Length`), 201 with `Location`;
/// - `HEAD /media/v1/upload/{id}?…`: `Upload-Offset` and `Upload-Length`;
/// - `PATCH /media/v1/upload/{id}?…`: appends `application/offset+octet-stream` at `Upload-Offset`, 204;
/// - `GET`/`HEAD /media/v1/blob/{id}?…`: the blob, one `Range` served as 206;
/// - `PUT /media/v1/mirror/{id}?…`: a standby receives its copy from the blob's region.
///
/// Every other answer is a ``MediaRefusal``'s status with a plain-text reason.
public enum MediaRoutes {
    /// Adds the routes to `router`.
    public static func add<Context: RequestContext>(to router: Router<Context>, endpoint: MediaEndpoint) {
        router.on("/media/v1/upload/{id}", method: .options) { _, _ -> Response in
            var headers = tusHeaders()
            headers[MediaHeader.tusVersion] = TusRules.version
            headers[MediaHeader.tusExtension] = TusRules.extensions
            headers[MediaHeader.tusMaxSize] = "\(endpoint.limits.maximumBytes)"
            return Response(status: .noContent, headers: headers)
        }
        router.post("/media/v1/upload/{id}") { request, context -> Response in
            await answer(tus: true) { () throws(MediaRefusal) in try await TusHandlers.create(request, id: context.parameters.get("id") ?? "", endpoint: endpoint) }
        }
        router.head("/media/v1/upload/{id}") { request, context -> Response in
            await answer(tus: true) { () throws(MediaRefusal) in try await TusHandlers.offset(request, id: context.parameters.get("id") ?? "", endpoint: endpoint) }
        }
        router.patch("/media/v1/upload/{id}") { request, context -> Response in
            await answer(tus: true) { () throws(MediaRefusal) in try await TusHandlers.patch(request, id: context.parameters.get("id") ?? "", endpoint: endpoint) }
        }
        router.put("/media/v1/mirror/{id}") { request, context -> Response in
            await answer(tus: false) { () throws(MediaRefusal) in try await MirrorHandler.receive(request, id: context.parameters.get("id") ?? "", endpoint: endpoint) }
        }
        router.get("/media/v1/blob/{id}") { request, context -> Response in
            await answer(tus: false) { () throws(MediaRefusal) in try await DownloadHandler.serve(request, id: context.parameters.get("id") ?? "", endpoint: endpoint, head: false) }
        }
        router.head("/media/v1/blob/{id}") { request, context -> Response in
            await answer(tus: false) { () throws(MediaRefusal) in try await DownloadHandler.serve(request, id: context.parameters.get("id") ?? "", endpoint: endpoint, head: true) }
        }
    }

    /// The response of `body`, or of its refusal.
    static func answer(tus: Bool, _ body: () async throws(MediaRefusal) -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            return refusalResponse(error, tus: tus)
        }
    }

    /// A refusal as a plain-text response (with `Tus-Resumable` on tus
    /// routes, `Tus-Version` on 412, `Retry-After` on 429).
    static func refusalResponse(_ refusal: MediaRefusal, tus: Bool) -> Response {
        var headers = tus ? tusHeaders() : HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        if refusal.status == 412 { headers[MediaHeader.tusVersion] = TusRules.version }
        if let seconds = refusal.retryAfterSeconds { headers[.retryAfter] = "\(seconds)" }
        return Response(status: HTTPResponse.Status(code: refusal.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: refusal.message + "\n")))
    }

    static func tusHeaders() -> HTTPFields {
        var headers = HTTPFields()
        headers[MediaHeader.tusResumable] = TusRules.version
        return headers
    }

    /// The request's query as decoded strings (the first of a repeated key).
    static func query(of request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where out[String(key)] == nil {
            out[String(key)] = String(value)
        }
        return out
    }
}

/// Header names of tus and of downloads.
enum MediaHeader {
    // Each literal is a valid token; the force-free fallback never runs.
    static let tusResumable = HTTPField.Name("Tus-Resumable") ?? .contentType
    static let tusVersion = HTTPField.Name("Tus-Version") ?? .contentType
    static let tusExtension = HTTPField.Name("Tus-Extension") ?? .contentType
    static let tusMaxSize = HTTPField.Name("Tus-Max-Size") ?? .contentType
    static let uploadLength = HTTPField.Name("Upload-Length") ?? .contentType
    static let uploadDeferLength = HTTPField.Name("Upload-Defer-Length") ?? .contentType
    static let uploadOffset = HTTPField.Name("Upload-Offset") ?? .contentType
    /// On a mirror PUT: when the blob was uploaded (unix seconds), for its retention.
    static let createdAt = HTTPField.Name("Relay-Media-Created-At") ?? .contentType
}
