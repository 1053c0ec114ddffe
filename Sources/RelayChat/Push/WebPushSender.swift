import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelayPush

/// Sends Web Push requests (RFC 8030) with the notifier's HTTP client: no
/// redirects followed, bounded time per request, and the endpoint's host
/// checked by `ProviderEndpointGuard` before each request.
struct WebPushSender: Sendable {
    let client: HTTPClient
    let vapid: VAPIDKey?
    let subject: String
    let endpoints: ProviderEndpointGuard

    /// Encrypts and posts one wake-up to `endpoint`.
    func send(endpoint: URL, keys: WebPushKeys, urgency: PushUrgency, on loop: any EventLoop) -> EventLoopFuture<PushAttempt> {
        guard let vapid else { return loop.makeSucceededFuture(.refused("no_vapid_key")) }
        let request: WebPushRequest
        do {
            request = try WebPushRequest(endpoint: endpoint, keys: keys, hint: PushHint(urgency: urgency), vapid: vapid, subject: subject, now: Date())
        } catch {
            return loop.makeSucceededFuture(.refused("encryption"))
        }
        return endpoints.check(endpoint, on: loop).flatMap { refused -> EventLoopFuture<PushAttempt> in
            if let refused { return loop.makeSucceededFuture(.refused(refused)) }
            var headers = HTTPHeaders()
            for (name, value) in request.headers { headers.add(name: name, value: value) }
            let httpRequest: HTTPClient.Request
            do {
                httpRequest = try HTTPClient.Request(url: request.url.absoluteString, method: .POST, headers: headers, body: .bytes(request.body))
            } catch {
                return loop.makeSucceededFuture(.refused("bad_endpoint"))
            }
            return self.client.execute(request: httpRequest, eventLoop: .delegate(on: loop), deadline: .now() + PushHTTP.requestTimeout)
                .map { response -> PushAttempt in
                    let status = Int(clamping: response.status.code)
                    return .answered(PushOutcome.classify(status: status, retryAfter: response.headers.first(name: "Retry-After")),
                                     reason: PushOutcome.reason(status: status))
                }
                .flatMapErrorThrowing { error in .unreachable("\(error)") }
        }
    }
}
