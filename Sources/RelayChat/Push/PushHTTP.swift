import AsyncHTTPClient
import Logging
import NIOCore
import NIOSSL

/// The one HTTP client the push senders share: pooled connections, HTTP/2
/// where the server offers it over TLS (APNs requires it), no redirects,
/// bounded connect and read times.
enum PushHTTP {
    /// The longest a push request (or an access-token request) may take.
    static let requestTimeout: TimeAmount = .seconds(15)

    /// A client on `group`; `extraCAFile` (PEM) is trusted beside the
    /// system's roots (a test's or a local stand-in's certificate).
    static func makeClient(group: any EventLoopGroup, extraCAFile: String?) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let extraCAFile {
            tls.additionalTrustRoots = [.file(extraCAFile)]
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(10)),
            connectionPool: .init(idleTimeout: .seconds(60))
        )
        configuration.httpVersion = .automatic
        return HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    /// Closes the client's connections.
    static func shutdown(_ client: HTTPClient, logger: Logger) async {
        do {
            try await client.shutdown()
        } catch {
            logger.warning("push HTTP client did not shut down cleanly", metadata: ["error": "\(error)"])
        }
    }
}
