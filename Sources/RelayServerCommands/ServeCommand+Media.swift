import ArgumentParser
import Foundation
import Logging
import NIOCore
import RelayChat
import RelayCore
import RelayMedia
import RelayMediaHTTP
import RelayMediaS3
import RelayReplication
import RelayTopology

extension ServeCommand {
    /// The media side of `relay serve` (docs/media.md): the blob store,
    /// what the HTTP listener serves, and the authority the router answers
    /// `q/media.*` with. Nil when the region has no `mediaDir`.
    /// The media part: what the HTTP listener serves, and its background work.
    struct Media {
        let endpoint: MediaEndpoint
        let housekeeping: MediaHousekeeping
        /// Plain downloads with sendfile(2), for the filesystem store (nil: through the routes).
        let sendfile: SendfileDownloads?
    }

    func startMedia(settings: RegionSettings, router: ChatRouter, group: any EventLoopGroup, logger: Logger) async throws -> Media? {
        guard let media = try MediaSettings.from(settings) else { return nil }
        guard let httpListen = ops.httpListen else {
            throw ValidationError("mediaDir is set but the node has no HTTP listener: give --http-listen HOST:PORT")
        }
        let secret: PeerCredentials
        do {
            secret = try PeerCredentials.load(fromDirectory: keyDir)
        } catch {
            throw ValidationError("media URLs are signed with the deployment's peer secret: cannot read it in \(keyDir)/: \(error) (relayctl keys init --dir \(keyDir) creates it)")
        }
        var bases: [String: String] = [:]
        if let topology {
            for region in try Topology.load(path: topology).regions where !region.http.isEmpty {
                bases[region.name] = "http://\(region.http)"
            }
        }
        bases[settings.name] = media.publicURL ?? "http://\(httpListen)"
        let files: FileBlobStore
        do {
            // One directory per region under mediaDir, so that regions on one machine may share it.
            files = try await FileBlobStore(root: media.directory + "/" + settings.name, syncsUploads: settings.mediaSync != false)
        } catch {
            throw ValidationError("cannot use mediaDir \(media.directory): \(error)")
        }
        let store: any BlobStore
        let s3 = try MediaS3Settings.from(settings)
        if let s3 {
            // Complete blobs go to the bucket; mediaDir spools uploads in progress.
            store = S3BlobStore(s3: S3Client(configuration: s3), prefix: settings.name + "/", spool: files)
        } else {
            store = files
        }
        let signer = MediaURLSigner(secret: secret.derivedKey(for: "media-url"))
        let quota = MediaQuota(redis: router.store.redis)
        router.mediaHook.attach(MediaAuthority(
            region: settings.name, limits: media.limits, signer: signer, quota: quota, baseURLs: bases))
        let replicator = router.replicator
        let mirror = MediaMirror(store: store, signer: signer, map: { replicator?.map }, baseURLs: bases,
                                 sync: replicator?.mode == .sync, logger: logger)
        let collector = MediaGarbageCollector(store: store, limits: media.limits, quota: quota, loop: group.next(), logger: logger)
        let housekeeping = MediaHousekeeping(mirror: mirror, collector: collector, interval: .seconds(media.sweepSeconds))
        logger.info("media", metadata: ["dir": "\(media.directory)", "url": "\(bases[settings.name] ?? "")", "maxBytes": "\(media.limits.maximumBytes)"])
        let endpoint = MediaEndpoint(store: store, signer: signer, limits: media.limits, now: { ChatRouter.nowMilliseconds() },
                                     completed: { _ in housekeeping.wake() },
                                     confirm: { state throws(MediaRefusal) in try await mirror.confirm(state) })
        // A failback lets blobs uploaded here for the returning region go back to it now.
        replicator?.authority.onChange { _, _ in housekeeping.wake() }
        let sendfile = s3 == nil && settings.mediaSendfile != false
            ? SendfileDownloads(signer: signer, root: files.root, now: { ChatRouter.nowMilliseconds() / 1000 }) : nil
        return Media(endpoint: endpoint, housekeeping: housekeeping, sendfile: sendfile)
    }
}
