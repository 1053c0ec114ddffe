import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelayMedia

/// Where an S3-compatible store is and how to sign for it.
public struct S3Configuration: Sendable {
    /// `http(s)://host[:port]`, no trailing slash (path-style addressing: `/<bucket>/<key>`).
    public var endpoint: String
    public var bucket: String
    public var signer: SigV4

    public init(endpoint: String, bucket: String, signer: SigV4) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.signer = signer
    }
}

/// The S3 operations the media store needs, signed with SigV4 (payload
/// unsigned), over AsyncHTTPClient: objects put whole or in parts
/// (multipart upload), read with a range, listed, deleted.
public struct S3Client: Sendable {
    public let configuration: S3Configuration
    private let http: HTTPClient

    public init(configuration: S3Configuration, http: HTTPClient = .shared) {
        self.configuration = configuration
        self.http = http
    }

    private var host: String {
        let withoutScheme = configuration.endpoint.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first
        return withoutScheme.map(String.init) ?? configuration.endpoint
    }

    private func path(_ key: String?) -> String {
        "/\(configuration.bucket)" + (key.map { "/\($0)" } ?? "")
    }

    /// A signed request (`Authorization`, `x-amz-date`, `x-amz-content-sha256`).
    func request(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
                 payloadHash: String = SigV4.unsignedPayload) -> HTTPClientRequest {
        let timestamp = SigV4.timestamp(Date())
        let path = path(key)
        var headers = [("host", host), ("x-amz-date", timestamp), ("x-amz-content-sha256", payloadHash)] + extra
        let authorization = configuration.signer.authorization(method: method.rawValue, path: path, query: query, headers: headers,
                                                               payloadHash: payloadHash, timestamp: timestamp)
        headers.append(("Authorization", authorization))
        let queryString = query.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: configuration.endpoint + SigV4.encode(path, encodeSlash: false) + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = method
        for (name, value) in headers where name != "host" { request.headers.add(name: name, value: value) }
        return request
    }

    func execute(_ request: HTTPClientRequest, expect: Set<UInt> = [200]) async throws -> HTTPClientResponse {
        let response = try await http.execute(request, timeout: .seconds(300))
        guard expect.contains(response.status.code) else {
            let body = try await response.body.collect(upTo: 8192)
            throw MediaRefusal.internalError("S3 \(request.method.rawValue) answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        return response
    }

    /// Creates the bucket (200, or 409 when it exists already).
    public func createBucket() async throws {
        _ = try await execute(request(.PUT, key: nil), expect: [200, 409])
    }

    /// Puts `bytes` as `key`.
    public func put(_ key: String, bytes: ByteBuffer) async throws {
        var r = request(.PUT, key: key)
        r.body = .bytes(bytes)
        _ = try await execute(r)
    }

    /// Puts the `length` bytes that `part(offset, count)` reads as `key`: one PUT up
    /// to `partBytes`, else a multipart upload in parts of `partBytes` (at least 5 MiB, S3's minimum).
    public func put(_ key: String, length: UInt64, partBytes: Int = 8 * 1024 * 1024,
                    part: (UInt64, Int) async throws -> ByteBuffer) async throws {
        if length <= UInt64(partBytes) {
            try await put(key, bytes: try await part(0, Int(length)))
            return
        }
        let created = try await execute(request(.POST, key: key, query: [("uploads", "")]))
        let xml = String(buffer: try await created.body.collect(upTo: 64 * 1024))
        guard let uploadID = S3XML.values(of: "UploadId", in: xml).first else { throw MediaRefusal.internalError("S3 gave no UploadId") }
        do {
            var etags: [String] = []
            var offset: UInt64 = 0
            var number = 1
            while offset < length {
                let count = Int(min(UInt64(partBytes), length - offset))
                var r = request(.PUT, key: key, query: [("partNumber", "\(number)"), ("uploadId", uploadID)])
                r.body = .bytes(try await part(offset, count))
                let answer = try await execute(r)
                guard let etag = answer.headers.first(name: "ETag") else { throw MediaRefusal.internalError("S3 gave no ETag for part \(number)") }
                etags.append(etag)
                offset += UInt64(count)
                number += 1
            }
            let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
            var complete = request(.POST, key: key, query: [("uploadId", uploadID)])
            complete.body = .bytes(ByteBuffer(string: "<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>"))
            let done = try await execute(complete)
            let text = String(buffer: try await done.body.collect(upTo: 64 * 1024))
            guard !text.contains("<Error>") else { throw MediaRefusal.internalError("S3 refused to complete the upload: \(text.prefix(300))") }
        } catch {
            _ = try? await execute(request(.DELETE, key: key, query: [("uploadId", uploadID)]), expect: [204, 200, 404])
            throw error
        }
    }

    /// The object's length, or nil when there is none.
    public func length(of key: String) async throws -> UInt64? {
        let response = try await execute(request(.HEAD, key: key), expect: [200, 404])
        guard response.status.code == 200 else { return nil }
        return response.headers.first(name: "Content-Length").flatMap(UInt64.init)
    }

    /// The whole small object `key` (at most `limit` bytes), or nil.
    public func get(_ key: String, limit: Int = 64 * 1024) async throws -> ByteBuffer? {
        let response = try await execute(request(.GET, key: key), expect: [200, 404])
        let body = try await response.body.collect(upTo: limit)
        return response.status.code == 200 ? body : nil
    }

    /// The bytes `first...last` of `key`, chunk by chunk to `sink`.
    public func read(_ key: String, first: UInt64, last: UInt64, into sink: (ByteBuffer) async throws -> Void) async throws {
        let response = try await execute(request(.GET, key: key, headers: [("range", "bytes=\(first)-\(last)")]), expect: [206, 200])
        for try await chunk in response.body { try await sink(chunk) }
    }

    /// Deletes `key` (nothing when it is not there).
    public func delete(_ key: String) async throws {
        _ = try await execute(request(.DELETE, key: key), expect: [204, 200, 404])
    }

    /// Every key starting with `prefix` (ListObjectsV2, page by page).
    public func keys(prefix: String) async throws -> [String] {
        var keys: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await execute(request(.GET, key: nil, query: query))
            let xml = String(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
            keys += S3XML.values(of: "Key", in: xml)
            token = S3XML.values(of: "IsTruncated", in: xml).first == "true" ? S3XML.values(of: "NextContinuationToken", in: xml).first : nil
        } while token != nil
        return keys
    }

    /// A presigned GET URL of `key`, valid `seconds`.
    public func presignedGET(_ key: String, seconds: Int) -> String {
        let query = configuration.signer.presignedQuery(method: "GET", host: host, path: path(key), expires: seconds, timestamp: SigV4.timestamp(Date()))
        return configuration.endpoint + SigV4.encode(path(key), encodeSlash: false) + "?" + query
    }
}
