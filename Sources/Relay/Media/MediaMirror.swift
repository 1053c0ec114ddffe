import AsyncHTTPClient
import Logging
import NIOCore
import RelayCore
import RelayMedia

/// Copies complete blobs to the standby of their region (docs/media.md):
/// a PUT of the whole blob to the standby's listener, signed with the
/// deployment's media key, streamed from the store. Asynchronous: a blob
/// is copied after its upload completes; `blobs/<id>.mirrored` records
/// that it reached the standby, and the sweep retries the rest.
struct MediaMirror: Sendable {
    let store: any BlobStore
    let signer: MediaURLSigner
    /// The base URL of the standby that keeps copies of `region`'s blobs
    /// (nil when there is none, or it is this region).
    let standbyURL: @Sendable (String) -> String?
    let logger: Logger
    let http: HTTPClient = .shared
    /// How long a mirror URL is valid.
    static let urlSeconds: Int64 = 600

    /// Copies every complete blob of this region that its standby lacks; the number copied.
    @discardableResult
    func sweep(now: Int64) async -> Int {
        guard let states = try? await store.all() else { return 0 }
        var copied = 0
        for state in states where state.isComplete && state.record.copy != true {
            guard let id = MediaID(rawValue: state.record.id), !(await store.isMirrored(id)) else { continue }
            guard let base = standbyURL(state.record.region) else { continue }
            do {
                try await copy(state, id: id, to: base, now: now)
                try await store.setMirrored(id)
                copied += 1
            } catch {
                logger.warning("media: copying a blob to the standby failed; retried at the next sweep",
                               metadata: ["blob": "\(id)", "standby": "\(base)", "error": "\(error)"])
            }
        }
        return copied
    }

    private func copy(_ state: BlobState, id: MediaID, to base: String, now: Int64) async throws {
        let claims = MediaGrantClaims(use: .mirror, id: id, region: state.record.region, user: state.record.user,
                                      length: state.record.length, expiresAt: now + Self.urlSeconds)
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
    }
}
