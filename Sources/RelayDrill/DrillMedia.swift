import AsyncHTTPClient
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayMedia
import RelayOps
import RelayReplication

/// The drill's media part (docs/drills.md): blobs uploaded to the drilled
/// region up to the kill (tus POST + PATCH on its listener), and more at
/// the standby while it serves the region; then each acknowledged upload
/// (last PATCH answered 204) downloaded and compared byte-exact: from the
/// standby during the failover, from the region after the failback.
///
/// The drill holds the deployment's keys, so it signs its own media URLs
/// (the media key derived from the peer secret, as the regions do) rather
/// than asking `q/media.upload` over MQTT: what it measures is whether the
/// blobs survive, not the grants.
final class DrillMedia: Sendable {
    /// An acknowledged upload: what a download must give back.
    struct Blob: Sendable {
        var id: MediaID
        var length: Int
        var digest: [UInt8]
        /// Uploaded at the standby during the failover.
        var atStandby: Bool
    }

    /// What the checks found.
    struct Figures: Sendable {
        /// Acknowledged uploads.
        var uploaded = 0
        /// Acknowledged uploads that some check could not download byte-exact.
        var lost = 0
        /// ... from the standby while it served the region (nil: not checked).
        var lostDuringFailover: Int?
        /// ... from the region after the failback (nil: not checked).
        var lostAfterFailback: Int?
        /// Which ones (up to 10), for the notes.
        var lostIDs: [String] = []
    }

    let region: String
    let regionURL: String
    let standbyURL: String
    private let signer: MediaURLSigner
    private let user: String
    private let http: HTTPClient = .shared
    private let acked = NIOLockedValueBox<[Blob]>([])
    private let lostIDs = NIOLockedValueBox<Set<String>>([])
    private let uploader = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// Uploads before the kill at most.
    static let maximumUploads = 200
    /// A blob's size: 8 KiB to 64 KiB (the drill checks survival, not throughput).
    static let sizes = 8 * 1024...64 * 1024
    /// Pause between uploads: a steady stream up to the kill, light beside the drill's messages.
    static let pause = Duration.milliseconds(200)

    /// The media part of a drill of `deployment`, or nil when the region has media off.
    init?(_ deployment: DrillDeployment, keyDir: String) throws {
        guard deployment.media, !deployment.region.http.isEmpty, !deployment.standby.http.isEmpty else { return nil }
        let secret: PeerCredentials
        do {
            secret = try PeerCredentials.load(fromDirectory: keyDir)
        } catch {
            throw RelayCtlError("\(deployment.region.name) has media on and the drill signs its media URLs with the deployment's peer secret: cannot read it in \(keyDir)/ (\(error))")
        }
        region = deployment.region.name
        regionURL = "http://\(deployment.region.http)"
        standbyURL = "http://\(deployment.standby.http)"
        signer = MediaURLSigner(secret: secret.derivedKey(for: "media-url"))
        user = "drill-media-" + String(MediaID.random().rawValue.prefix(8))
    }

    /// Uploads to the region, one after another, until ``stopUploading()``.
    func startUploading() {
        let task = Task {
            for _ in 0..<Self.maximumUploads where !Task.isCancelled {
                await upload(to: regionURL, atStandby: false)
                try? await Task.sleep(for: Self.pause)  // pacing, by design
            }
        }
        uploader.withLockedValue { $0 = task }
    }

    /// Stops the uploads to the region (one in flight when it is killed fails: not acknowledged).
    func stopUploading() async {
        let task = uploader.withLockedValue { $0 }
        task?.cancel()
        await task?.value
    }

    /// Stops the uploads without waiting (the drill ends).
    func cancel() {
        uploader.withLockedValue { $0 }?.cancel()
    }

    /// Uploads `count` blobs to the standby while it serves the region.
    func uploadAtStandby(count: Int) async {
        for _ in 0..<count { await upload(to: standbyURL, atStandby: true) }
    }

    /// Downloads every blob acknowledged before the kill from the standby; the number missing or different.
    func checkAtStandby() async -> Int {
        let missing = await check(acked.withLockedValue { $0 }.filter { !$0.atStandby }, at: standbyURL)
        lostIDs.withLockedValue { $0.formUnion(missing.map(\.id.rawValue)) }
        return missing.count
    }

    /// Downloads every acknowledged blob from the region; the number
    /// missing or different after `patience` (the blobs uploaded at the
    /// standby travel back after the failback: a copy, not instant).
    func checkAtRegion(patience: Duration = .seconds(20)) async -> Int {
        let deadline = ContinuousClock.now + patience
        var missing = await check(acked.withLockedValue { $0 }, at: regionURL)
        while !missing.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(500))  // another region's copy: polled, bounded
            missing = await check(missing, at: regionURL)
        }
        lostIDs.withLockedValue { $0.formUnion(missing.map(\.id.rawValue)) }
        return missing.count
    }

    /// The figures so far.
    func figures(duringFailover: Int?, afterFailback: Int?) -> Figures {
        let ids = lostIDs.withLockedValue { $0 }
        return Figures(uploaded: acked.withLockedValue { $0.count }, lost: ids.count, lostDuringFailover: duringFailover,
                       lostAfterFailback: afterFailback, lostIDs: Array(ids.sorted().prefix(10)))
    }

    private func upload(to base: String, atStandby: Bool) async {
        let length = Int.random(in: Self.sizes)
        var random = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length + 8)
        while bytes.count < length {
            withUnsafeBytes(of: random.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - length)
        let id = MediaID.random()
        let claims = MediaGrantClaims(use: .upload, id: id, region: region, user: user, length: UInt64(length),
                                      expiresAt: Int64(Date().timeIntervalSince1970) + 3600)
        let url = base + signer.signedPath(claims)
        do {
            var post = HTTPClientRequest(url: url)
            post.method = .POST
            post.headers.add(name: "Tus-Resumable", value: "1.0.0")
            post.headers.add(name: "Upload-Length", value: "\(length)")
            guard try await http.execute(post, timeout: .seconds(10)).status.code == 201 else { return }
            var patch = HTTPClientRequest(url: url)
            patch.method = .PATCH
            patch.headers.add(name: "Tus-Resumable", value: "1.0.0")
            patch.headers.add(name: "Content-Type", value: "application/offset+octet-stream")
            patch.headers.add(name: "Upload-Offset", value: "0")
            patch.body = .bytes(ByteBuffer(bytes: bytes))
            let answer = try await http.execute(patch, timeout: .seconds(60))
            guard answer.status.code == 204, answer.headers.first(name: "Upload-Offset") == "\(length)" else { return }
        } catch {
            return  // not acknowledged: nothing was promised
        }
        let blob = Blob(id: id, length: length, digest: Array(SHA256.hash(data: bytes)), atStandby: atStandby)
        acked.withLockedValue { $0.append(blob) }
    }

    /// The blobs of `blobs` that `base` does not give back byte-exact.
    private func check(_ blobs: [Blob], at base: String) async -> [Blob] {
        var missing: [Blob] = []
        for blob in blobs {
            let claims = MediaGrantClaims(use: .download, id: blob.id, region: region,
                                          expiresAt: Int64(Date().timeIntervalSince1970) + 3600)
            var same = false
            do {
                let answer = try await http.execute(HTTPClientRequest(url: base + signer.signedPath(claims)), timeout: .seconds(30))
                let body = try await answer.body.collect(upTo: Self.sizes.upperBound + 1)
                same = answer.status.code == 200 && body.readableBytes == blob.length
                    && Array(SHA256.hash(data: body.readableBytesView)) == blob.digest
            } catch {
                same = false
            }
            if !same { missing.append(blob) }
        }
        return missing
    }
}
