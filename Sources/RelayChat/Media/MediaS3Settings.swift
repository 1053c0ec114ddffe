import ArgumentParser
import Foundation
import RelayMedia
import RelayMediaS3
import RelayTopology

/// The S3-compatible store of a region's blobs (`mediaS3*` in
/// `regions/<name>.json`; docs/media.md), or nil for the filesystem.
package enum MediaS3Settings {
    struct Credentials: Decodable {
        var accessKey: String
        var secretKey: String
    }

    package static func from(_ region: RegionSettings) throws -> S3Configuration? {
        guard let endpoint = region.mediaS3Endpoint else { return nil }
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://"), !endpoint.hasSuffix("/") else {
            throw ValidationError("mediaS3Endpoint must be an http(s) URL without a trailing /")
        }
        guard let bucket = region.mediaS3Bucket, !bucket.isEmpty else { throw ValidationError("mediaS3Endpoint needs mediaS3Bucket") }
        guard let file = region.mediaS3CredentialsFile else {
            throw ValidationError("mediaS3Endpoint needs mediaS3CredentialsFile: a JSON file {\"accessKey\": …, \"secretKey\": …}")
        }
        guard let data = FileManager.default.contents(atPath: file), data.count <= 64 * 1024,
              let credentials = try? JSONDecoder().decode(Credentials.self, from: data)
        else { throw ValidationError("mediaS3CredentialsFile \(file) cannot be read as {\"accessKey\", \"secretKey\"}") }
        return S3Configuration(endpoint: endpoint, bucket: bucket, signer: SigV4(
            accessKey: credentials.accessKey, secretKey: credentials.secretKey, region: region.mediaS3Region ?? "us-east-1"))
    }
}
