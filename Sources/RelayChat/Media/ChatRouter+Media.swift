import Foundation
import NIOCore
import RelayCore
import RelayMedia

/// `q/media.upload` and `q/media.download` (docs/media.md): signed URLs
/// for the region's HTTP listener.
extension ChatRouter {
    /// Grants an upload of `upload.length` bytes to `user`: checks the
    /// region's maximum (`too_large`) and reserves the bytes in the user's
    /// quota (`quota`), then signs a tus upload URL on this region's listener.
    func mediaUploadRequest(_ upload: Relay_V1_MediaUpload, user: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        guard let media = mediaHook.attached else {
            return loop.makeFailedFuture(ChatError(.unavailable, "media is not enabled in region \(configuration.region)"))
        }
        do throws(MediaRefusal) {
            try media.limits.checkLength(upload.length)
        } catch {
            return loop.makeFailedFuture(ChatError(error.status == 413 ? .tooLarge : .badRequest, error.message))
        }
        // The blob lives where its uploader's home is served: here.
        guard let base = media.baseURLs[media.region] else {
            return loop.makeFailedFuture(ChatError(.unavailable, "region \(media.region) has no media URL"))
        }
        return media.quota.reserve(user: user, bytes: upload.length, limit: media.limits.quotaBytes, on: loop).flatMapThrowing { reserved in
            guard reserved else {
                throw ChatError(.quota, "\(upload.length) more bytes would pass the \(media.limits.quotaBytes)-byte media quota of \(user) in \(media.region)")
            }
            let claims = MediaGrantClaims(
                use: .upload, id: MediaID.random(), region: home, user: user, length: upload.length,
                expiresAt: Self.nowMilliseconds() / 1000 + media.limits.urlSeconds)
            return Self.grantResponse(claims, url: base + media.signer.signedPath(claims))
        }
    }

    /// A download URL for the blob `download.id` of `download.region`, on
    /// the listener of the region serving that home now (its standby after
    /// a failover).
    func mediaDownloadRequest(_ download: Relay_V1_MediaDownload, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        guard let media = mediaHook.attached else {
            return loop.makeFailedFuture(ChatError(.unavailable, "media is not enabled in region \(configuration.region)"))
        }
        guard let id = MediaID(rawValue: download.id) else {
            return loop.makeFailedFuture(ChatError(.badRequest, "media_download.id is not a blob id"))
        }
        let serving = replicator?.map.servingRegion(of: download.region) ?? (download.region == media.region ? media.region : nil)
        guard let serving, let base = media.baseURLs[serving] else {
            return loop.makeFailedFuture(ChatError(.notFound, "no region \(download.region) serves media"))
        }
        let claims = MediaGrantClaims(use: .download, id: id, region: download.region, expiresAt: Self.nowMilliseconds() / 1000 + media.limits.urlSeconds)
        return loop.makeSucceededFuture(Self.grantResponse(claims, url: base + media.signer.signedPath(claims)))
    }

    private static func grantResponse(_ claims: MediaGrantClaims, url: String) -> Relay_V1_Response {
        var grant = Relay_V1_MediaGrant()
        grant.id = claims.id.rawValue
        grant.region = claims.region
        grant.url = url
        grant.expiresAt = UInt64(clamping: claims.expiresAt)
        grant.length = claims.length
        var response = Relay_V1_Response()
        response.media = grant
        return response
    }
}
