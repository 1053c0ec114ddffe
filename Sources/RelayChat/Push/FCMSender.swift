import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import RelayPush

/// Sends FCM pushes (HTTP v1) with the notifier's HTTP client. The OAuth2
/// access token comes from the service account's JWT bearer grant at its
/// `token_uri`, is cached until a minute before it expires, and is fetched
/// once for all the pushes that wait for it; FCM's 401 drops it.
struct FCMSender: Sendable {
    let client: HTTPClient
    let account: FCMServiceAccount
    /// `https://fcm.googleapis.com` unless the region says otherwise.
    let baseURL: URL
    let endpoints: ProviderEndpointGuard
    let metrics: PushMetrics

    private struct TokenState {
        var token: FCMAccessToken?
        var pending: EventLoopFuture<FCMAccessToken>?
    }
    private let tokens = NIOLockedValueBox(TokenState())

    init(client: HTTPClient, account: FCMServiceAccount, baseURL: URL, endpoints: ProviderEndpointGuard, metrics: PushMetrics) {
        self.client = client
        self.account = account
        self.baseURL = baseURL
        self.endpoints = endpoints
        self.metrics = metrics
    }

    /// A token to use at once, a grant already under way, or one to start.
    private enum TokenStep {
        case have(FCMAccessToken)
        case wait(EventLoopFuture<FCMAccessToken>)
        case grant(EventLoopPromise<FCMAccessToken>)
    }

    /// Why an access token could not be had (worth a retry of the push).
    struct TokenUnavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// Posts one data-only wake-up to the registration `token`.
    func send(token: String, urgency: PushUrgency, on loop: any EventLoop) -> EventLoopFuture<PushAttempt> {
        let request = FCMRequest(projectID: account.projectID, token: token, hint: PushHint(urgency: urgency))
        return endpoints.check(baseURL, on: loop).flatMap { refused -> EventLoopFuture<PushAttempt> in
            if let refused { return loop.makeSucceededFuture(.refused(refused)) }
            return self.accessToken(on: loop).flatMap { access -> EventLoopFuture<PushAttempt> in
                var headers = HTTPHeaders()
                headers.add(name: "Authorization", value: "Bearer \(access.token)")
                headers.add(name: "Content-Type", value: "application/json; charset=UTF-8")
                let httpRequest: HTTPClient.Request
                do {
                    httpRequest = try HTTPClient.Request(url: APNsSender.join(self.baseURL, request.path), method: .POST, headers: headers, body: .bytes(request.body))
                } catch {
                    return loop.makeSucceededFuture(.refused("bad_endpoint"))
                }
                return self.client.execute(request: httpRequest, eventLoop: .delegate(on: loop), deadline: .now() + PushHTTP.requestTimeout)
                    .map { response -> PushAttempt in self.answered(response, access: access) }
            }.flatMapErrorThrowing { error in .unreachable("\(error)") }
        }
    }

    private func answered(_ response: HTTPClient.Response, access: FCMAccessToken) -> PushAttempt {
        let status = Int(clamping: response.status.code)
        let code = status >= 300 ? response.body.flatMap { FCMRequest.errorCode(fromBody: Array($0.readableBytesView)) } : nil
        let outcome = FCMRequest.outcome(status: status, errorCode: code, retryAfter: response.headers.first(name: "Retry-After"))
        if status == 401 {
            tokens.withLockedValue { state in
                if state.token == access { state.token = nil }
            }
            return .answered(outcome, reason: "access_token")
        }
        return .answered(outcome, reason: PushOutcome.reason(of: outcome, status: status))
    }

    /// The cached access token, or one granted now (one grant request at a
    /// time, shared by every push that waits for it).
    func accessToken(on loop: any EventLoop) -> EventLoopFuture<FCMAccessToken> {
        let now = Int64(Date().timeIntervalSince1970)
        let step = tokens.withLockedValue { state -> TokenStep in
            if let token = state.token, token.isUsable(now: now) { return .have(token) }
            if let pending = state.pending { return .wait(pending) }
            let promise = loop.makePromise(of: FCMAccessToken.self)
            state.pending = promise.futureResult
            return .grant(promise)
        }
        let promise: EventLoopPromise<FCMAccessToken>
        switch step {
        case .have(let token): return loop.makeSucceededFuture(token)
        case .wait(let pending): return pending.hop(to: loop)
        case .grant(let p): promise = p
        }
        grant(now: now, on: loop).whenComplete { result in
            self.tokens.withLockedValue { state in
                state.pending = nil
                if case .success(let token) = result { state.token = token }
            }
            switch result {
            case .success: self.metrics.authToken("fcm", result: "granted")
            case .failure: self.metrics.authToken("fcm", result: "failed")
            }
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    private func grant(now: Int64, on loop: any EventLoop) -> EventLoopFuture<FCMAccessToken> {
        let body: [UInt8]
        do {
            body = try account.grantBody(now: now)
        } catch {
            return loop.makeFailedFuture(TokenUnavailable(description: "grant not signed: \(error)"))
        }
        return endpoints.check(account.tokenURI, on: loop).flatMap { refused -> EventLoopFuture<FCMAccessToken> in
            if let refused { return loop.makeFailedFuture(TokenUnavailable(description: "token_uri \(refused)")) }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let request: HTTPClient.Request
            do {
                request = try HTTPClient.Request(url: self.account.tokenURI.absoluteString, method: .POST, headers: headers, body: .bytes(body))
            } catch {
                return loop.makeFailedFuture(TokenUnavailable(description: "token_uri is not a URL the client takes"))
            }
            return self.client.execute(request: request, eventLoop: .delegate(on: loop), deadline: .now() + PushHTTP.requestTimeout)
                .flatMapThrowing { response -> FCMAccessToken in
                    guard response.status == .ok, let bytes = response.body.map({ Array($0.readableBytesView) }) else {
                        throw TokenUnavailable(description: "the token endpoint answered \(response.status.code)")
                    }
                    return try FCMAccessToken(response: bytes, now: now)
                }
        }
    }
}
