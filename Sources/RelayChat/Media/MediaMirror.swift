import AsyncHTTPClient
import Logging
import NIOCore
import RelayCore
import RelayMedia

/// Copies complete blobs to the region that keeps their copy
/// (``MirrorPlan``; docs/media.md): the standby for this region's own
/// blobs, the home for blobs uploaded here while this region served a
/// failed-over home. A PUT of the whole blob to that region's listener,
/// signed with the deployment's media key, streamed from the store.
/// `blobs/<id>.mirrored` records that the copy arrived; the sweep retries
/// the rest. In sync mode an upload's completion waits for its copy
/// (``confirm(_:)``).
package struct MediaMirror: Sendable {
    let store: any BlobStore
    let signer: MediaURLSigner
    /// The region map now (nil: a single region, no copies).
    let map: @Sendable () -> RegionMap?
    /// Each region's listener, `http://HOST:PORT`.
    let baseURLs: [String: String]
    /// Whether the region mirrors synchronously (`"mirror": "sync"`).
    let sync: Bool
    let logger: Logger
    let http: HTTPClient = .shared
    let flights = CopyFlights()

    /// A mirror of `store` to the regions at `baseURLs`.
    package init(store: any BlobStore, signer: MediaURLSigner, map: @escaping @Sendable () -> RegionMap?, baseURLs: [String: String],
                 sync: Bool, logger: Logger) {
        self.store = store
        self.signer = signer
        self.map = map
        self.baseURLs = baseURLs
        self.sync = sync
        self.logger = logger
    }
    /// How long a mirror URL is valid.
    static let urlSeconds: Int64 = 600

    /// Copies every complete blob kept here whose copy is missing and can
    /// be made now; the number copied.
    @discardableResult
    func sweep(now: Int64) async -> Int {
        guard let map = map(), let states = try? await store.all() else { return 0 }
        var copied = 0
        for state in states where state.isComplete && state.record.copy != true {
            guard let id = MediaID(rawValue: state.record.id), let target = MirrorPlan.target(home: state.record.region, map: map),
                  !(await store.isMirrored(id))
            else { continue }
            do {
                try await flights.copy(id) { try await copy(state, id: id, to: target) }.value
                copied += 1
            } catch {
                logger.warning("media: copying a blob failed; retried at the next sweep",
                               metadata: ["blob": "\(id)", "to": "\(target)", "error": "\(error)"])
            }
        }
        return copied
    }

    /// In sync mode, returns once the copy of the complete blob `state`
    /// reached the standby (copying it now if needed), or throws 503 with
    /// `Retry-After` after ``MirrorPlan/deadline(length:)``; the blob stays
    /// stored here and the copy goes on. Returns at once when the region's
    /// blobs are not to be waited for (async mode, or a standby failed over).
    package func confirm(_ state: BlobState) async throws(MediaRefusal) {
        guard sync, let map = map(), MirrorPlan.waits(home: state.record.region, map: map, sync: true),
              let target = MirrorPlan.target(home: state.record.region, map: map),
              let id = MediaID(rawValue: state.record.id)
        else { return }
        if await store.isMirrored(id) { return }
        let flight = flights.copy(id) { try await copy(state, id: id, to: target) }
        let deadline = MirrorPlan.deadline(length: state.record.length)
        switch await CopyFlights.wait(flight, atMost: deadline) {
        case .success:
            return
        case .failure(let error):
            logger.warning("media: an upload's copy did not reach the standby; the upload is answered 503",
                           metadata: ["blob": "\(id)", "standby": "\(target)", "error": "\(error)"])
        case nil:
            logger.warning("media: an upload's copy did not reach the standby in time; the upload is answered 503",
                           metadata: ["blob": "\(id)", "standby": "\(target)", "waited": "\(deadline)"])
        }
        throw .unavailable(
            "the upload is stored but its copy has not reached the standby region \(target) yet (sync mirroring): retry (HEAD) later; nothing is lost",
            retryAfterSeconds: 1)
    }

    /// Copies one blob to `target` and records it.
    private func copy(_ state: BlobState, id: MediaID, to target: String) async throws {
        guard let base = baseURLs[target] else { throw MediaRefusal.internalError("region \(target) has no media URL") }
        let claims = MediaGrantClaims(use: .mirror, id: id, region: state.record.region, user: state.record.user,
                                      length: state.record.length, expiresAt: ChatRouter.nowMilliseconds() / 1000 + Self.urlSeconds)
        var request = HTTPClientRequest(url: base + signer.signedPath(claims))
        request.method = .PUT
        request.headers.add(name: "Relay-Media-Created-At", value: "\(state.record.createdAt)")
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(BlobChunks(store: store, id: id, length: state.record.length),
                               length: .known(Int64(clamping: state.record.length)))
        let response = try await http.execute(request, timeout: .seconds(600))
        guard response.status.code == 201 || response.status.code == 204 else {
            let body = try await response.body.collect(upTo: 4096)
            throw MediaRefusal(Int(response.status.code), String(buffer: body))
        }
        try await store.setMirrored(id)
    }
}
