import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import RelayMediaHTTP
import RelayOps

/// The region's HTTP listener when media is on (`--http-listen` with
/// `mediaDir`): Hummingbird serving the media routes (docs/media.md) and
/// the operability endpoints (`/healthz`, `/readyz`, `/metrics`, fixed
/// answers) that ``OpsHTTPServer`` serves otherwise.
package final class RegionHTTPServer: Sendable {
    private let task: Task<Void, Never>
    /// `http://HOST:PORT` of the listener.
    package let url: String

    private init(task: Task<Void, Never>, url: String) {
        self.task = task
        self.url = url
    }

    /// Binds `listen` and serves until ``close()``.
    /// With `sendfile`, plain blob GETs are answered with `sendfile(2)` (``SendfileHandler``).
    package static func start(listen: HostPort, media: MediaEndpoint, sendfile: SendfileDownloads?, ops: OpsEndpoints, opsPaths: [String],
                      group: any EventLoopGroup, logger: Logger) async throws -> RegionHTTPServer {
        let router = Router()
        MediaRoutes.add(to: router, endpoint: media)
        let loop = group.next()
        for path in ["/healthz", "/readyz", "/metrics"] + opsPaths {
            router.get(RouterPath(path)) { _, _ in try await opsResponse(ops, method: .GET, path: path, on: loop) }
            router.head(RouterPath(path)) { _, _ in try await opsResponse(ops, method: .HEAD, path: path, on: loop) }
        }
        let started = loop.makePromise(of: Int.self)
        let app = Application(
            router: router,
            server: sendfile.map(RegionHTTPChannel.builder) ?? .http1(),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in started.succeed(channel.localAddress?.port ?? listen.port) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        let task = Task {
            do {
                try await app.run()
            } catch {
                logger.error("the HTTP listener stopped", metadata: ["error": "\(error)"])
            }
            started.fail(CancellationError())
        }
        let port = try await started.futureResult.get()
        return RegionHTTPServer(task: task, url: "http://\(listen.host):\(port)")
    }

    /// Stops listening.
    package func close() async {
        task.cancel()
        await task.value
    }

    private static func opsResponse(_ ops: OpsEndpoints, method: NIOHTTP1.HTTPMethod, path: String, on loop: any EventLoop) async throws -> Response {
        let answer = try await ops.respond(method: method, uri: path, on: loop).get()
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return Response(status: .init(code: Int(answer.status.code)), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
