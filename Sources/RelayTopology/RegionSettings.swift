import ArgumentParser
import Foundation

/// One region's process settings, `regions/<name>.json`.
package struct RegionSettings: Codable {
    package var name = "local"
    package var redis = "127.0.0.1:6379"
    /// The seed nodes (HOST:PORT) of the Redis Cluster that is the region's
    /// store; nil: `redis` names one Redis (RegionSettings+Redis.swift).
    package var redisCluster: [String]?
    package var maxSendBytes: Int?
    package var retentionDays: Int?
    package var maxQueuedPerDevice: Int?
    package var maxGroupMembers: Int?
    package var maxDevicesPerUser: Int?
    package var deliveryWindow: Int?
    package var sendBurst: Int?
    package var sendsPerSecond: Double?
    package var requestBurst: Int?
    package var requestsPerSecond: Double?
    package var keyFetchBurst: Int?
    package var keyFetchesPerSecond: Double?
    package var typingBurst: Int?
    package var typingPerSecond: Double?
    package var mirror: MirrorMode?
    /// Milliseconds queue mirror frames are held in async mode so that a
    /// status acknowledged meanwhile never travels (decision 0033; 0 ships
    /// them at once). Default 100, at most 5,000.
    package var mirrorGatherMs: Int?
    /// The cap on each outbox to a peer (decision 0015); 0 for no bound.
    package var outboxMaxFrames: UInt64?
    package var outboxMaxBytes: UInt64?
    /// Push (docs/push.md): the coalescing window, whether loopback and
    /// private endpoints (and plain http) are accepted, VAPID's contact.
    package var pushWindowSeconds: Int?
    package var pushAllowPrivateEndpoints: Bool?
    package var pushSubject: String?
    /// APNs (docs/push.md): the team's `.p8` key file, its key id, the team
    /// id, and the provider's base URLs (Apple's unless given: tests point
    /// them at a stand-in).
    package var pushAPNsKeyFile: String?
    package var pushAPNsKeyID: String?
    package var pushAPNsTeamID: String?
    package var pushAPNsURL: String?
    package var pushAPNsSandboxURL: String?
    /// FCM (docs/push.md): the service account's JSON key file and the send
    /// API's base URL (Google's unless given).
    package var pushFCMServiceAccountFile: String?
    package var pushFCMURL: String?
    /// Certificates (PEM) trusted beside the system's for provider TLS.
    package var pushCAFile: String?
    /// Media (docs/media.md): the blob directory (media is off without
    /// it), the largest blob, each user's quota, keeping, URL lifetime,
    /// the disk's reserve, upload buckets, the public base URL.
    package var mediaDir: String?
    package var mediaMaxBytes: UInt64?
    package var mediaQuotaBytes: UInt64?
    package var mediaRetentionDays: Int?
    package var mediaRetentionSeconds: Int64?
    package var mediaIncompleteSeconds: Int64?
    package var mediaURLSeconds: Int64?
    package var mediaMinFreeBytes: UInt64?
    package var mediaUploadBurst: Double?
    package var mediaUploadsPerSecond: Double?
    package var mediaURL: String?
    package var mediaSweepSeconds: Int64?
    /// Plain blob downloads with sendfile(2) (default true; false: through the routes, a chunk at a time).
    package var mediaSendfile: Bool?
    /// Uploaded bytes synced to disk before a PATCH is answered (default true; false: answered from the page cache).
    package var mediaSync: Bool?
    /// An S3-compatible store for complete blobs (docs/media.md): its
    /// endpoint, bucket, signing region and a JSON file `{"accessKey", "secretKey"}`.
    package var mediaS3Endpoint: String?
    package var mediaS3Bucket: String?
    package var mediaS3Region: String?
    package var mediaS3CredentialsFile: String?

    package init() {}

    /// Every key may be missing: the defaults above apply.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? name
        redis = try c.decodeIfPresent(String.self, forKey: .redis) ?? redis
        redisCluster = try c.decodeIfPresent([String].self, forKey: .redisCluster)
        maxSendBytes = try c.decodeIfPresent(Int.self, forKey: .maxSendBytes)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays)
        maxQueuedPerDevice = try c.decodeIfPresent(Int.self, forKey: .maxQueuedPerDevice)
        maxGroupMembers = try c.decodeIfPresent(Int.self, forKey: .maxGroupMembers)
        maxDevicesPerUser = try c.decodeIfPresent(Int.self, forKey: .maxDevicesPerUser)
        deliveryWindow = try c.decodeIfPresent(Int.self, forKey: .deliveryWindow)
        sendBurst = try c.decodeIfPresent(Int.self, forKey: .sendBurst)
        sendsPerSecond = try c.decodeIfPresent(Double.self, forKey: .sendsPerSecond)
        requestBurst = try c.decodeIfPresent(Int.self, forKey: .requestBurst)
        requestsPerSecond = try c.decodeIfPresent(Double.self, forKey: .requestsPerSecond)
        keyFetchBurst = try c.decodeIfPresent(Int.self, forKey: .keyFetchBurst)
        keyFetchesPerSecond = try c.decodeIfPresent(Double.self, forKey: .keyFetchesPerSecond)
        typingBurst = try c.decodeIfPresent(Int.self, forKey: .typingBurst)
        typingPerSecond = try c.decodeIfPresent(Double.self, forKey: .typingPerSecond)
        mirror = try c.decodeIfPresent(MirrorMode.self, forKey: .mirror)
        mirrorGatherMs = try c.decodeIfPresent(Int.self, forKey: .mirrorGatherMs)
        if let mirrorGatherMs, !(0...5_000).contains(mirrorGatherMs) {
            throw DecodingError.dataCorruptedError(
                forKey: .mirrorGatherMs, in: c, debugDescription: "mirrorGatherMs must be 0 to 5000 milliseconds, not \(mirrorGatherMs)")
        }
        outboxMaxFrames = try c.decodeIfPresent(UInt64.self, forKey: .outboxMaxFrames)
        outboxMaxBytes = try c.decodeIfPresent(UInt64.self, forKey: .outboxMaxBytes)
        pushWindowSeconds = try c.decodeIfPresent(Int.self, forKey: .pushWindowSeconds)
        pushAllowPrivateEndpoints = try c.decodeIfPresent(Bool.self, forKey: .pushAllowPrivateEndpoints)
        pushSubject = try c.decodeIfPresent(String.self, forKey: .pushSubject)
        pushAPNsKeyFile = try c.decodeIfPresent(String.self, forKey: .pushAPNsKeyFile)
        pushAPNsKeyID = try c.decodeIfPresent(String.self, forKey: .pushAPNsKeyID)
        pushAPNsTeamID = try c.decodeIfPresent(String.self, forKey: .pushAPNsTeamID)
        pushAPNsURL = try c.decodeIfPresent(String.self, forKey: .pushAPNsURL)
        pushAPNsSandboxURL = try c.decodeIfPresent(String.self, forKey: .pushAPNsSandboxURL)
        pushFCMServiceAccountFile = try c.decodeIfPresent(String.self, forKey: .pushFCMServiceAccountFile)
        pushFCMURL = try c.decodeIfPresent(String.self, forKey: .pushFCMURL)
        pushCAFile = try c.decodeIfPresent(String.self, forKey: .pushCAFile)
        mediaDir = try c.decodeIfPresent(String.self, forKey: .mediaDir)
        mediaSendfile = try c.decodeIfPresent(Bool.self, forKey: .mediaSendfile)
        mediaSync = try c.decodeIfPresent(Bool.self, forKey: .mediaSync)
        mediaMaxBytes = try c.decodeIfPresent(UInt64.self, forKey: .mediaMaxBytes)
        mediaQuotaBytes = try c.decodeIfPresent(UInt64.self, forKey: .mediaQuotaBytes)
        mediaRetentionDays = try c.decodeIfPresent(Int.self, forKey: .mediaRetentionDays)
        mediaRetentionSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaRetentionSeconds)
        mediaIncompleteSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaIncompleteSeconds)
        mediaURLSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaURLSeconds)
        mediaMinFreeBytes = try c.decodeIfPresent(UInt64.self, forKey: .mediaMinFreeBytes)
        mediaUploadBurst = try c.decodeIfPresent(Double.self, forKey: .mediaUploadBurst)
        mediaUploadsPerSecond = try c.decodeIfPresent(Double.self, forKey: .mediaUploadsPerSecond)
        mediaURL = try c.decodeIfPresent(String.self, forKey: .mediaURL)
        mediaSweepSeconds = try c.decodeIfPresent(Int64.self, forKey: .mediaSweepSeconds)
        mediaS3Endpoint = try c.decodeIfPresent(String.self, forKey: .mediaS3Endpoint)
        mediaS3Bucket = try c.decodeIfPresent(String.self, forKey: .mediaS3Bucket)
        mediaS3Region = try c.decodeIfPresent(String.self, forKey: .mediaS3Region)
        mediaS3CredentialsFile = try c.decodeIfPresent(String.self, forKey: .mediaS3CredentialsFile)
    }

    package static func load(path: String) throws -> RegionSettings {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(RegionSettings.self, from: data)
        } catch {
            throw ValidationError("\(path) is not valid region settings: \(error)")
        }
    }
}
