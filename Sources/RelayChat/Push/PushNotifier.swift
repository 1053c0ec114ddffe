import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayPush

/// Wakes offline devices with a push (docs/push.md). Triggered where
/// something is queued for a device that no node of the region holds a
/// connection for; the pending push is durable in Redis (`PushStore`) and
/// any node of the region sends it, with coalescing, retries with backoff
/// and jitter, a circuit breaker per push service origin and bounded
/// concurrency per provider. The rules are RelayPush's; this class only
/// performs them.
package final class PushNotifier: Sendable {
    let store: PushStore
    let settings: PushSettings
    let vapid: VAPIDKey?
    private let client: HTTPClient
    private let webPush: WebPushSender
    private let apns: APNsSender?
    private let fcm: FCMSender?
    private let servedHomes: @Sendable () -> [String]
    private let replicator: Replicator?
    private let loop: any EventLoop
    private let logger: Logger
    let metrics: PushMetrics

    private struct State {
        var inFlight: [PushProvider: Int] = [:]
        var breakers: [String: CircuitBreaker] = [:]
        var ticking = false
        var again = false
    }
    private let state = NIOLockedValueBox(State())

    package init(store: PushStore, settings: PushSettings, vapid: VAPIDKey?, group: any EventLoopGroup, replicator: Replicator?,
         servedHomes: @escaping @Sendable () -> [String], logger: Logger) {
        self.store = store
        self.settings = settings
        self.vapid = vapid
        self.replicator = replicator
        self.servedHomes = servedHomes
        self.loop = group.next()
        self.logger = logger
        let metrics = PushMetrics()
        self.metrics = metrics
        let client = PushHTTP.makeClient(group: group, extraCAFile: settings.extraCAFile)
        let endpoints = ProviderEndpointGuard(allowPrivate: settings.allowPrivateEndpoints)
        self.client = client
        self.webPush = WebPushSender(client: client, vapid: vapid, subject: settings.subject, endpoints: endpoints)
        self.apns = settings.apns.map {
            APNsSender(client: client, credentials: $0.credentials, productionURL: $0.productionURL, sandboxURL: $0.sandboxURL,
                       endpoints: endpoints, metrics: metrics)
        }
        self.fcm = settings.fcm.map { FCMSender(client: client, account: $0.account, baseURL: $0.baseURL, endpoints: endpoints, metrics: metrics) }
    }

    /// The providers this region can send to: Web Push with a VAPID key,
    /// APNs and FCM when configured. Registrations for others are refused.
    package var availableProviders: Set<PushProvider> {
        var providers: Set<PushProvider> = []
        if vapid != nil { providers.insert(.webPush) }
        if apns != nil { providers.insert(.apns) }
        if fcm != nil { providers.insert(.fcm) }
        return providers
    }

    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: - Triggers

    /// Something worth waking for was queued for `device`, which no node of
    /// the region holds a connection for.
    func queued(device: String, urgency: PushUrgency) {
        store.trigger(device: device, urgency: urgency, nowMilliseconds: Self.nowMilliseconds(),
                      windowMilliseconds: settings.windowMilliseconds, servedHomes: servedHomes(), on: loop).whenComplete { outcome in
            switch outcome {
            case .success(.scheduled): self.tick()
            case .success(.merged): self.metrics.coalesced("merged")
            case .success(.withinWindow): self.metrics.coalesced("window")
            case .success(.unregistered), .success(.notServedHere): break
            case .failure(let error):
                self.logger.warning("push not scheduled", metadata: ["device": "\(device)", "error": "\(error)"])
                self.metrics.failed("any", reason: "store")
            }
        }
    }

    /// `device` connected: what was pending for it is cancelled.
    func connected(device: String) {
        store.connected(device: device, on: loop).whenFailure { error in
            self.logger.warning("pending push not cancelled", metadata: ["device": "\(device)", "error": "\(error)"])
        }
    }

    // MARK: - Sending

    /// Looks for due pushes every `pollMilliseconds` (retries, and pushes
    /// left by a node that stopped).
    package func start() -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(settings.pollMilliseconds), delay: .milliseconds(settings.pollMilliseconds)) { _ in
            self.tick()
        }
    }

    /// Takes due pushes up to the free concurrency and sends them.
    func tick() {
        let free = state.withLockedValue { state -> Int? in
            if state.ticking {
                state.again = true
                return nil
            }
            state.ticking = true
            let busy = state.inFlight.values.reduce(0, +)
            return max(0, settings.concurrencyPerProvider * PushProvider.allCases.count - busy)
        }
        guard let free else { return }
        store.claim(nowMilliseconds: Self.nowMilliseconds(), limit: min(free, 64), on: loop).whenComplete { outcome in
            switch outcome {
            case .success(let devices):
                for device in devices { self.process(device) }
            case .failure(let error):
                self.logger.warning("due pushes not read", metadata: ["error": "\(error)"])
            }
            let again = self.state.withLockedValue { state -> Bool in
                state.ticking = false
                defer { state.again = false }
                return state.again
            }
            if again { self.tick() }
        }
    }

    private func process(_ device: String) {
        store.claimed(device: device, allowPrivate: settings.allowPrivateEndpoints, on: loop).whenComplete { outcome in
            guard case .success(let claimed) = outcome else {
                // Left in push:due with its lease: taken again when the lease ends.
                self.logger.warning("pending push not read", metadata: ["device": "\(device)"])
                return
            }
            guard let registration = claimed.registration, let since = claimed.sinceMilliseconds,
                  self.servedHomes().contains(registration.home)
            else {
                self.finish(self.store.discard(device: device, on: self.loop), device: device)
                return
            }
            if claimed.connected {
                self.metrics.coalesced("connected")
                self.finish(self.store.discard(device: device, on: self.loop), device: device)
                return
            }
            self.send(device: device, registration: registration, claimed: claimed, since: since)
        }
    }

    private func send(device: String, registration: PushStore.Registration, claimed: PushStore.Claimed, since: Int64) {
        let provider = registration.target.provider
        let origin: String
        switch registration.target {
        case .webPush(let endpoint, _): origin = VAPIDKey.audience(of: endpoint.absoluteString) ?? "webpush"
        case .apns, .fcm: origin = provider.rawValue
        }
        let now = Self.nowMilliseconds()
        let admission = state.withLockedValue { state -> CircuitBreaker.Admission in
            guard state.inFlight[provider, default: 0] < settings.concurrencyPerProvider else { return .deferUntil(now + 200) }
            var breaker = state.breakers[origin] ?? CircuitBreaker(threshold: settings.breakerThreshold, cooldownMilliseconds: settings.breakerCooldownMilliseconds)
            let admission = breaker.admit(now: now)
            state.breakers[origin] = breaker
            if case .deferUntil = admission { return admission }
            state.inFlight[provider, default: 0] += 1
            return admission
        }
        if case .deferUntil(let at) = admission {
            finish(store.retry(device: device, attempts: claimed.attempts, dueMilliseconds: at, on: loop), device: device)
            return
        }
        let result: EventLoopFuture<PushAttempt>
        switch registration.target {
        case .webPush(let endpoint, let keys):
            result = webPush.send(endpoint: endpoint, keys: keys, urgency: claimed.urgency, on: loop)
        case .apns(let token, let topic, let sandbox):
            result = apns?.send(token: token, topic: topic, sandbox: sandbox, urgency: claimed.urgency, on: loop)
                ?? loop.makeSucceededFuture(.refused("unconfigured"))
        case .fcm(let token):
            result = fcm?.send(token: token, urgency: claimed.urgency, on: loop) ?? loop.makeSucceededFuture(.refused("unconfigured"))
        }
        result.whenComplete { outcome in
            let result: PushAttempt
            switch outcome {
            case .success(let r): result = r
            case .failure(let error): result = .unreachable("\(error)")
            }
            self.settle(device: device, registration: registration, claimed: claimed, since: since, origin: origin, result: result)
        }
    }

    private func settle(device: String, registration: PushStore.Registration, claimed: PushStore.Claimed, since: Int64, origin: String, result: PushAttempt) {
        let provider = registration.target.provider
        let now = Self.nowMilliseconds()
        let outcome: PushOutcome
        var reason = ""
        switch result {
        case .answered(let answer, let why):
            outcome = answer
            reason = why
        case .unreachable(let detail):
            outcome = .retry(retryAfter: nil)
            reason = "unreachable"
            logger.info("push service unreachable", metadata: ["device": "\(device)", "origin": "\(origin)", "error": "\(detail)"])
        case .refused(let why):
            outcome = .rejected
            reason = why
        }
        state.withLockedValue { state in
            state.inFlight[provider, default: 1] -= 1
            var breaker = state.breakers[origin] ?? CircuitBreaker(threshold: settings.breakerThreshold, cooldownMilliseconds: settings.breakerCooldownMilliseconds)
            // A device throttled on its own (APNs TooManyRequests) says nothing against the provider.
            if outcome.isProviderFailure { breaker.failed(now: now) } else { breaker.succeeded() }
            state.breakers[origin] = breaker
        }
        let attempts = claimed.attempts + 1
        switch outcome {
        case .sent:
            metrics.sent(provider.rawValue)
            metrics.delivered(sinceMilliseconds: since, nowMilliseconds: now)
            logger.debug("push sent", metadata: ["device": "\(device)", "provider": "\(provider.rawValue)"])
            finish(store.sent(device: device, nowMilliseconds: now, on: loop), device: device)
        case .gone:
            metrics.failed(provider.rawValue, reason: "gone")
            logger.info("push registration gone; removed", metadata: ["device": "\(device)", "provider": "\(provider.rawValue)"])
            finish(store.unregister(device: device, on: loop).flatMap { self.mirrorRemoval(device: device, registration: registration) }, device: device)
        case .retry(let retryAfter), .throttledDevice(let retryAfter):
            switch settings.backoff.next(attempts: attempts, retryAfterSeconds: retryAfter, jitter: Double.random(in: 0...1)) {
            case .retry(let delay):
                metrics.retried(provider.rawValue)
                finish(store.retry(device: device, attempts: attempts, dueMilliseconds: now + max(delay, 1), on: loop), device: device)
            case .drop:
                metrics.failed(provider.rawValue, reason: "exhausted")
                logger.warning("push given up", metadata: ["device": "\(device)", "attempts": "\(attempts)", "last": "\(reason)"])
                finish(store.discard(device: device, on: loop), device: device)
            }
        case .rejected:
            metrics.failed(provider.rawValue, reason: reason)
            logger.warning("push refused", metadata: ["device": "\(device)", "provider": "\(provider.rawValue)", "reason": "\(reason)"])
            finish(store.discard(device: device, on: loop), device: device)
        }
    }

    /// The standby hears that the registration is gone too.
    private func mirrorRemoval(device: String, registration: PushStore.Registration) -> EventLoopFuture<Void> {
        guard let replicator else { return loop.makeSucceededVoidFuture() }
        var update = Relay_V1_PushRegistrationUpdate()
        update.device = device
        update.user = registration.user
        update.home = registration.home
        update.removed = true
        return replicator.mirror([replicator.frame { $0.pushRegistration = update }], forHome: registration.home, on: loop).map { _ in }
    }

    private func finish(_ future: EventLoopFuture<Void>, device: String) {
        future.whenFailure { error in
            // The push stays in push:due with its lease; taken again when it ends.
            self.logger.warning("push state not recorded", metadata: ["device": "\(device)", "error": "\(error)"])
        }
    }

    /// Closes the HTTP clients.
    package func shutdown() async {
        await PushHTTP.shutdown(client, logger: logger)
    }
}
