import AsyncHTTPClient
import Foundation
import NIOCore

/// Downloads a blob to a file, streaming; after a dropped connection it
/// asks for the rest only (`Range: bytes=N-`, 206).
public struct BlobDownloader: Sendable {
    /// Connection failures in a row before giving up.
    public var attempts = 8
    private let http: HTTPClient

    /// A downloader over `http`.
    public init(http: HTTPClient = .shared) {
        self.http = http
    }

    /// Downloads `url` into `file` (created or replaced); `expected` is the
    /// stored size the pointer names (more is refused).
    public func download(_ url: String, to file: URL, expected: UInt64, progress: @Sendable (UInt64) -> Void = { _ in }) async throws {
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw MediaTransferError("cannot create \(file.path)") }
        let writer = try FileHandle(forWritingTo: file)
        defer { try? writer.close() }
        var written: UInt64 = 0
        var failures = 0
        while true {
            var request = HTTPClientRequest(url: url)
            if written > 0 { request.headers.add(name: "Range", value: "bytes=\(written)-") }
            do {
                let response = try await http.execute(request, timeout: .seconds(60))
                let code = Int(response.status.code)
                guard code == (written > 0 ? 206 : 200) else {
                    throw MediaTransferError(status: code, "GET: \(try await TusUploader.text(response))")
                }
                for try await var chunk in response.body {
                    written += UInt64(chunk.readableBytes)
                    guard written <= expected else { throw MediaTransferError("the blob is longer than the \(expected) bytes expected") }
                    if let bytes = chunk.readBytes(length: chunk.readableBytes) { try writer.write(contentsOf: bytes) }
                    progress(written)
                }
                guard written == expected else { throw MediaTransferError("the blob has \(written) bytes, \(expected) expected") }
                try writer.synchronize()
                return
            } catch let error as MediaTransferError {
                throw error
            } catch {
                failures += 1
                guard failures < attempts else { throw MediaTransferError("download failed \(failures) times: \(error)") }
                try await Task.sleep(for: .milliseconds(100 << min(failures, 5)))
            }
        }
    }
}
