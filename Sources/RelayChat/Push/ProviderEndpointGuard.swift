import Foundation
import NIOCore
import NIOPosix
import RelayPush

/// Which hosts the relay may send push requests to: unless the region
/// allows private endpoints (tests, `scripts/up`), a host that is a
/// loopback, private or other special-purpose address, or that resolves to
/// one, is refused, so that neither a device's registration nor a provider
/// URL can make the relay a request forwarder into its own network.
package struct ProviderEndpointGuard: Sendable {
    /// Private endpoints (and plain http) are allowed.
    let allowPrivate: Bool

    /// A guard that allows private endpoints when `allowPrivate`.
    package init(allowPrivate: Bool) {
        self.allowPrivate = allowPrivate
    }

    /// Checks a configured provider URL's shape at start-up (https, a host
    /// that is not special-purpose), naming `setting` in the error.
    package func checkConfigured(_ text: String, setting: String) throws(PushError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.user == nil, url.password == nil, url.query == nil
        else { throw PushError(.badTarget, "\(setting) is not an absolute URL with a host") }
        guard scheme == "https" || (scheme == "http" && allowPrivate) else { throw PushError(.badTarget, "\(setting) must be https") }
        if !allowPrivate, AddressPolicy.isRefusedHost(host) {
            throw PushError(.badTarget, "\(setting)'s host \(host) is a loopback or private address (pushAllowPrivateEndpoints allows it)")
        }
        return url
    }

    /// nil when `url`'s host may be reached now; else the reason label.
    func check(_ url: URL, on loop: any EventLoop) -> EventLoopFuture<String?> {
        guard !allowPrivate else { return loop.makeSucceededFuture(nil) }
        guard let host = url.host else { return loop.makeSucceededFuture("bad_endpoint") }
        if AddressPolicy.isRefusedHost(host) { return loop.makeSucceededFuture("refused_address") }
        let port = url.port ?? 443
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
}

/// What became of one push request, whichever the provider.
enum PushAttempt: Sendable {
    /// The provider answered; `outcome` is its meaning, `reason` the metrics label.
    case answered(PushOutcome, reason: String)
    /// No answer (connection refused, timeout, TLS, no access token): worth a retry.
    case unreachable(String)
    /// Not sent, never will be (reason label).
    case refused(String)
}
