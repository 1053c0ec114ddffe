import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RelayPush

/// Sends Web Push requests (RFC 8030) over HTTPS with async-http-client:
/// no redirects followed, bounded time per request, and, unless the region
/// allows private endpoints, the endpoint's host resolved first and
/// refused when any of its addresses is loopback or private.
final class WebPushSender: Sendable {
    private let client: HTTPClient
    private let vapid: VAPIDKey?
    private let subject: String
    private let allowPrivate: Bool
    private let group: any EventLoopGroup

    /// The longest a push request may take.
    static let requestTimeout: TimeAmount = .seconds(15)

    init(group: any EventLoopGroup, vapid: VAPIDKey?, subject: String, allowPrivate: Bool) {
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(10)),
            connectionPool: .init(idleTimeout: .seconds(60))
        )
        self.client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        self.vapid = vapid
        self.subject = subject
        self.allowPrivate = allowPrivate
        self.group = group
    }

    /// What became of one request.
    enum Result: Sendable {
        /// The push service answered.
        case answered(status: Int, retryAfter: String?)
        /// No answer (connection refused, timeout, TLS): worth a retry.
        case unreachable(String)
        /// Not sent, never will be (reason label).
        case refused(String)
    }

    /// Encrypts and posts one wake-up to `endpoint`.
    func send(endpoint: URL, keys: WebPushKeys, urgency: PushUrgency, on loop: any EventLoop) -> EventLoopFuture<Result> {
        guard let vapid else { return loop.makeSucceededFuture(.refused("no_vapid_key")) }
        let request: WebPushRequest
        do {
            request = try WebPushRequest(endpoint: endpoint, keys: keys, hint: PushHint(urgency: urgency), vapid: vapid, subject: subject, now: Date())
        } catch {
            return loop.makeSucceededFuture(.refused("encryption"))
        }
        return checkAddress(endpoint, on: loop).flatMap { refused -> EventLoopFuture<Result> in
            if let refused { return loop.makeSucceededFuture(.refused(refused)) }
            var headers = HTTPHeaders()
            for (name, value) in request.headers { headers.add(name: name, value: value) }
            let httpRequest: HTTPClient.Request
            do {
                httpRequest = try HTTPClient.Request(url: request.url.absoluteString, method: .POST, headers: headers, body: .bytes(request.body))
            } catch {
                return loop.makeSucceededFuture(.refused("bad_endpoint"))
            }
            return self.client.execute(request: httpRequest, eventLoop: .delegate(on: loop), deadline: .now() + Self.requestTimeout)
                .map { response -> Result in .answered(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After")) }
                .flatMapErrorThrowing { error in .unreachable("\(error)") }
        }
    }

    /// nil when the endpoint's host may be reached; else the reason label.
    private func checkAddress(_ endpoint: URL, on loop: any EventLoop) -> EventLoopFuture<String?> {
        guard !allowPrivate else { return loop.makeSucceededFuture(nil) }
        guard let host = endpoint.host else { return loop.makeSucceededFuture("bad_endpoint") }
        if AddressPolicy.isRefusedHost(host) { return loop.makeSucceededFuture("refused_address") }
        let port = endpoint.port ?? 443
        // getaddrinfo blocks: off the event loop.
        return NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            Self.resolvesOnlyToPublic(host: host, port: port) ? nil : "refused_address"
        }
    }

    /// True when every address `host` resolves to is public (and it resolves).
    static func resolvesOnlyToPublic(host: String, port: Int) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(first) }
        var pointer: UnsafeMutablePointer<addrinfo>? = first
        var any = false
        while let info = pointer {
            if let address = info.pointee.ai_addr {
                any = true
                switch Int32(info.pointee.ai_family) {
                case AF_INET:
                    let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        withUnsafeBytes(of: sin.pointee.sin_addr) { Array($0) }
                    }
                    if AddressPolicy.isRefused(ipv4: bytes) { return false }
                case AF_INET6:
                    let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                        withUnsafeBytes(of: sin6.pointee.sin6_addr) { Array($0) }
                    }
                    if AddressPolicy.isRefused(ipv6: bytes) { return false }
                default:
                    return false
                }
            }
            pointer = info.pointee.ai_next
        }
        return any
    }

    /// Closes the client's connections.
    func shutdown(logger: Logger) async {
        do {
            try await client.shutdown()
        } catch {
            logger.warning("push HTTP client did not shut down cleanly", metadata: ["error": "\(error)"])
        }
    }
}
