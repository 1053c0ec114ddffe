import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import RelayPush

/// Sends APNs pushes (HTTP/2, token-based authentication) with the
/// notifier's HTTP client. The provider token is signed with the team's key
/// and reused for 40 minutes (`ProviderTokenCache`); what is sent is
/// `APNsRequest`'s, what an answer means is `APNsRequest.outcome`'s.
struct APNsSender: Sendable {
    let client: HTTPClient
    let credentials: APNsCredentials
    /// `https://api.push.apple.com` unless the region says otherwise.
    let productionURL: URL
    /// `https://api.sandbox.push.apple.com` unless the region says otherwise.
    let sandboxURL: URL
    let endpoints: ProviderEndpointGuard
    let metrics: PushMetrics
    private let tokens = NIOLockedValueBox(ProviderTokenCache())

    init(client: HTTPClient, credentials: APNsCredentials, productionURL: URL, sandboxURL: URL, endpoints: ProviderEndpointGuard, metrics: PushMetrics) {
        self.client = client
        self.credentials = credentials
        self.productionURL = productionURL
        self.sandboxURL = sandboxURL
        self.endpoints = endpoints
        self.metrics = metrics
    }

    /// Posts one wake-up to the device `token` of app `topic`.
    func send(token: String, topic: String, sandbox: Bool, urgency: PushUrgency, on loop: any EventLoop) -> EventLoopFuture<PushAttempt> {
        let now = Int64(Date().timeIntervalSince1970)
        let providerToken: String
        do {
            providerToken = try self.providerToken(now: now)
        } catch {
            return loop.makeSucceededFuture(.refused("signing"))
        }
        let request = APNsRequest(token: token, topic: topic, hint: PushHint(urgency: urgency), providerToken: providerToken, now: now)
        let base = sandbox ? sandboxURL : productionURL
        return endpoints.check(base, on: loop).flatMap { refused -> EventLoopFuture<PushAttempt> in
            if let refused { return loop.makeSucceededFuture(.refused(refused)) }
            var headers = HTTPHeaders()
            for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
            let httpRequest: HTTPClient.Request
            do {
                httpRequest = try HTTPClient.Request(url: Self.join(base, request.path), method: .POST, headers: headers, body: .bytes(request.body))
            } catch {
                return loop.makeSucceededFuture(.refused("bad_endpoint"))
            }
            return self.client.execute(request: httpRequest, eventLoop: .delegate(on: loop), deadline: .now() + PushHTTP.requestTimeout)
                .map { response -> PushAttempt in self.answered(response, now: now) }
                .flatMapErrorThrowing { error in .unreachable("\(error)") }
        }
    }

    private func answered(_ response: HTTPClient.Response, now: Int64) -> PushAttempt {
        let status = Int(clamping: response.status.code)
        let reason = response.body.flatMap { APNsRequest.reason(fromBody: Array($0.readableBytesView)) }
        let outcome = APNsRequest.outcome(status: status, reason: reason, retryAfter: response.headers.first(name: "Retry-After"))
        if status == 403, case .retry = outcome {
            tokens.withLockedValue { $0.rejected(now: now) }
            return .answered(outcome, reason: "provider_token")
        }
        return .answered(outcome, reason: PushOutcome.reason(of: outcome, status: status))
    }

    /// The token in use, or a freshly signed one.
    private func providerToken(now: Int64) throws(PushError) -> String {
        let result = tokens.withLockedValue { cache -> Result<(token: String, signed: Bool), PushError> in
            if let token = cache.usable(now: now) { return .success((token, false)) }
            do throws(PushError) {
                let token = try credentials.providerToken(issuedAt: now)
                cache.store(token, issuedAt: now)
                return .success((token, true))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let got):
            if got.signed { metrics.authToken("apns", result: "signed") }
            return got.token
        case .failure(let error):
            metrics.authToken("apns", result: "failed")
            throw error
        }
    }

    /// `base` (which may carry a path prefix) followed by `path`.
    static func join(_ base: URL, _ path: String) -> String {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text + path
    }
}
