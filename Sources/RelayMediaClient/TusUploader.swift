import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Uploads a file to a tus 1.0 upload URL (core + creation; docs/media.md):
/// creates the upload unless the server has it, asks where it stands
/// (HEAD `Upload-Offset`), and PATCHes the rest a chunk at a time, going
/// back to the stored offset after a dropped connection or a 409. Memory:
/// one chunk.
public struct TusUploader: Sendable {
    /// Bytes per PATCH.
    public var chunkBytes = 4 * 1024 * 1024
    /// Connection failures in a row before giving up.
    public var attempts = 8
    private let http: HTTPClient

    /// An uploader over `http`.
    public init(http: HTTPClient = .shared) {
        self.http = http
    }

    /// Uploads the `length` bytes of `file` to `url`; `progress` gets the
    /// stored offset after each chunk. Returns once the server reported
    /// the upload complete (in sync mode: once the region's standby has
    /// its copy; a 503 meanwhile is retried after its `Retry-After`).
    public func upload(_ file: URL, length: UInt64, to url: String, progress: @Sendable (UInt64) -> Void = { _ in }) async throws {
        let reader = try FileHandle(forReadingFrom: file)
        defer { try? reader.close() }
        var failures = 0
        // nil: ask the server (HEAD) where the upload stands.
        var known: UInt64?
        while true {
            do {
                let offset: UInt64
                if let known {
                    offset = known
                } else {
                    offset = try await currentOffset(url, length: length)
                    progress(offset)
                }
                guard offset < length else { return }
                known = try await patch(reader, file: file, from: offset, length: length, to: url)
                failures = 0
                progress(known ?? offset)
            } catch let error as MediaTransferError {
                throw error
            } catch {
                // The connection dropped, or the server asked to come back later:
                // ask where the upload stands and go on from there.
                failures += 1
                guard failures < attempts else { throw MediaTransferError("upload failed \(failures) times: \(error)") }
                let retry = (error as? RetryLater).map { Duration.seconds(min(max($0.seconds, 0), 30)) }
                try await Task.sleep(for: retry ?? .milliseconds(100 << min(failures, 5)))
                known = nil
            }
        }
    }

    /// A retryable answer (503) with its `Retry-After`.
    struct RetryLater: Error {
        var seconds: Int
        var message: String
    }

    /// PATCHes the next chunk at `offset`: the new offset, or nil when the
    /// server's offset is another (409).
    private func patch(_ reader: FileHandle, file: URL, from offset: UInt64, length: UInt64, to url: String) async throws -> UInt64? {
        let count = Int(min(UInt64(chunkBytes), length - offset))
        try reader.seek(toOffset: offset)
        let chunk = try reader.read(upToCount: count) ?? Data()
        guard chunk.count == count else { throw MediaTransferError("\(file.path) is shorter than \(length) bytes") }
        var request = HTTPClientRequest(url: url)
        request.method = .PATCH
        request.headers.add(name: "Tus-Resumable", value: "1.0.0")
        request.headers.add(name: "Content-Type", value: "application/offset+octet-stream")
        request.headers.add(name: "Upload-Offset", value: "\(offset)")
        request.body = .bytes(ByteBuffer(bytes: chunk))
        let response = try await http.execute(request, timeout: .seconds(120))
        switch response.status.code {
        case 204:
            guard let next = response.headers.first(name: "Upload-Offset").flatMap(UInt64.init), next > offset, next <= length else {
                throw MediaTransferError(status: 204, "the server answered no usable Upload-Offset")
            }
            return next
        case 409:
            return nil
        case 503:
            throw try await Self.retryLater(response)
        default:
            throw MediaTransferError(status: Int(response.status.code), "PATCH at \(offset): \(try await Self.text(response))")
        }
    }

    static func retryLater(_ response: HTTPClientResponse) async throws -> RetryLater {
        let seconds = response.headers.first(name: "Retry-After").flatMap(Int.init) ?? 1
        return RetryLater(seconds: seconds, message: try await text(response))
    }

    /// The stored offset (HEAD), creating the upload (POST) when the server has none.
    func currentOffset(_ url: String, length: UInt64) async throws -> UInt64 {
        var head = HTTPClientRequest(url: url)
        head.method = .HEAD
        head.headers.add(name: "Tus-Resumable", value: "1.0.0")
        let answer = try await http.execute(head, timeout: .seconds(30))
        switch answer.status.code {
        case 200:
            guard let offset = answer.headers.first(name: "Upload-Offset").flatMap(UInt64.init), offset <= length else {
                throw MediaTransferError(status: 200, "the server answered no usable Upload-Offset")
            }
            return offset
        case 404:
            var post = HTTPClientRequest(url: url)
            post.method = .POST
            post.headers.add(name: "Tus-Resumable", value: "1.0.0")
            post.headers.add(name: "Upload-Length", value: "\(length)")
            let created = try await http.execute(post, timeout: .seconds(30))
            guard created.status.code == 201 else {
                throw MediaTransferError(status: Int(created.status.code), "creating the upload: \(try await Self.text(created))")
            }
            return 0
        case 503:
            throw try await Self.retryLater(answer)
        default:
            throw MediaTransferError(status: Int(answer.status.code), "HEAD: \(try await Self.text(answer))")
        }
    }

    /// The start of a refusal's text body.
    static func text(_ response: HTTPClientResponse) async throws -> String {
        let body = try await response.body.collect(upTo: 4096)
        return "\(response.status.code) " + String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
