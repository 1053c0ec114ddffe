import Hummingbird
import RelayCore
import RelayMedia

/// The tus 1.0.0 requests (core + creation) over the blob store; the rules
/// are ``TusRules``'s, the signature ``MediaURLSigner``'s.
enum TusHandlers {
    /// POST: creates the upload the URL grants (201 with `Location`).
    static func create(_ request: Request, id: String, endpoint: MediaEndpoint) async throws(MediaRefusal) -> Response {
        let claims = try endpoint.signer.verify(use: .upload, id: id, query: MediaRoutes.query(of: request), now: endpoint.nowSeconds)
        try TusRules.checkResumable(request.headers[MediaHeader.tusResumable])
        let length = try TusRules.creationLength(
            request.headers[MediaHeader.uploadLength], deferLength: request.headers[MediaHeader.uploadDeferLength],
            granted: claims.length, maximum: endpoint.limits.maximumBytes)
        if try await endpoint.store.state(of: claims.id) == nil {
            try endpoint.rate.take(user: claims.user, nowMilliseconds: endpoint.now())
            try endpoint.limits.checkRoom(free: endpoint.store.freeBytes(), needed: length)
        }
        let record = BlobRecord(id: claims.id, region: claims.region, user: claims.user, length: length,
                                contentClass: "", createdAt: endpoint.nowSeconds)
        try await endpoint.store.create(record)
        var headers = MediaRoutes.tusHeaders()
        // The upload URL is the creation URL itself (same signature).
        headers[.location] = request.uri.description
        headers[MediaHeader.uploadOffset] = "0"
        return Response(status: .created, headers: headers)
    }

    /// HEAD: the stored offset (`Upload-Offset`) and `Upload-Length`.
    static func offset(_ request: Request, id: String, endpoint: MediaEndpoint) async throws(MediaRefusal) -> Response {
        let claims = try endpoint.signer.verify(use: .upload, id: id, query: MediaRoutes.query(of: request), now: endpoint.nowSeconds)
        try TusRules.checkResumable(request.headers[MediaHeader.tusResumable])
        guard let state = try await endpoint.store.state(of: claims.id) else { throw .notFound("no upload \(claims.id): POST creates it") }
        if state.isComplete { try await endpoint.confirm(state) }
        var headers = MediaRoutes.tusHeaders()
        headers[MediaHeader.uploadOffset] = "\(state.offset)"
        headers[MediaHeader.uploadLength] = "\(state.record.length)"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers)
    }

    /// PATCH: appends the body at `Upload-Offset` (204 with the new offset).
    static func patch(_ request: Request, id: String, endpoint: MediaEndpoint) async throws(MediaRefusal) -> Response {
        let claims = try endpoint.signer.verify(use: .upload, id: id, query: MediaRoutes.query(of: request), now: endpoint.nowSeconds)
        try TusRules.checkResumable(request.headers[MediaHeader.tusResumable])
        let (offset, complete) = try await endpoint.locks.withLock(claims.id.rawValue) { () throws(MediaRefusal) -> (UInt64, BlobState?) in
            guard let state = try await endpoint.store.state(of: claims.id) else { throw .notFound("no upload \(claims.id): POST creates it") }
            let at = try TusRules.checkPatch(
                contentType: request.headers[.contentType], offsetHeader: request.headers[MediaHeader.uploadOffset],
                contentLength: request.headers[.contentLength], storedOffset: state.offset, length: state.record.length)
            guard !state.isComplete else { return (state.offset, state) }
            let offset = try await endpoint.store.append(claims.id, at: at, body: request.body)
            guard offset == state.record.length else { return (offset, nil) }
            var done = state
            done.offset = offset
            done.isComplete = true
            endpoint.completed(done)
            return (offset, done)
        }
        // Outside the upload's lock: waiting for the standby's copy (sync mode) holds no other request up.
        if let complete { try await endpoint.confirm(complete) }
        var headers = MediaRoutes.tusHeaders()
        headers[MediaHeader.uploadOffset] = "\(offset)"
        return Response(status: .noContent, headers: headers)
    }
}
