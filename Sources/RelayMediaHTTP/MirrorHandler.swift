import Hummingbird
import RelayCore
import RelayMedia

/// PUT of a standby's copy (`/media/v1/mirror/{id}?…`, signed by the
/// blob's region with the deployment's media key): the whole blob as the
/// body. A copy already complete is kept (204); a partial one from an
/// earlier attempt is replaced.
enum MirrorHandler {
    static func receive(_ request: Request, id: String, endpoint: MediaEndpoint) async throws(MediaRefusal) -> Response {
        let claims = try endpoint.signer.verify(use: .mirror, id: id, query: MediaRoutes.query(of: request), now: endpoint.nowSeconds)
        return try await endpoint.locks.withLock(claims.id.rawValue) { () throws(MediaRefusal) -> Response in
            if let state = try await endpoint.store.state(of: claims.id) {
                if state.isComplete { return Response(status: .noContent) }
                try await endpoint.store.remove(claims.id)
            }
            try endpoint.limits.checkRoom(free: endpoint.store.freeBytes(), needed: claims.length)
            let createdAt = request.headers[MediaHeader.createdAt].flatMap { Int64($0) } ?? endpoint.nowSeconds
            var record = BlobRecord(id: claims.id, region: claims.region, user: claims.user, length: claims.length,
                                    contentClass: "", createdAt: min(createdAt, endpoint.nowSeconds))
            record.copy = true
            try await endpoint.store.create(record)
            let offset = try await endpoint.store.append(claims.id, at: 0, body: request.body)
            guard offset == claims.length else {
                throw .badRequest("the copy has \(offset) of \(claims.length) bytes")
            }
            return Response(status: .created)
        }
    }
}
