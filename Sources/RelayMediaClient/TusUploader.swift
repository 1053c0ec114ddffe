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
    /// stored offset after each chunk.
    public func upload(_ file: URL, length: UInt64, to url: String, progress: @Sendable (UInt64) -> Void = { _ in }) async throws {
        let reader = try FileHandle(forReadingFrom: file)
        defer { try? reader.close() }
        var failures = 0
        var offset = try await currentOffset(url, length: length)
        progress(offset)
        while offset < length {
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
            do {
                let response = try await http.execute(request, timeout: .seconds(120))
                switch response.status.code {
                case 204:
                    guard let next = response.headers.first(name: "Upload-Offset").flatMap(UInt64.init), next > offset, next <= length else {
                        throw MediaTransferError(status: 204, "the server answered no usable Upload-Offset")
                    }
                    offset = next
                    failures = 0
                    progress(offset)
                case 409:
                    offset = try await currentOffset(url, length: length)
                default:
                    throw MediaTransferError(status: Int(response.status.code), "PATCH at \(offset): \(try await Self.text(response))")
                }
            } catch let error as MediaTransferError {
                throw error
            } catch {
                // The connection dropped: ask where the upload stands and go on from there.
                failures += 1
                guard failures < attempts else { throw MediaTransferError("upload failed \(failures) times: \(error)") }
                try await Task.sleep(for: .milliseconds(100 << min(failures, 5)))
                offset = try await currentOffset(url, length: length)
            }
        }
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
