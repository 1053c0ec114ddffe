import NIOCore
import RelayCore
import RelayPush

/// `q/push.register` and `q/push.unregister` (docs/protocol.md, docs/push.md),
/// and the standby's copy of registrations.
extension ChatRouter {
    /// Stores the asking device's push target (validated first) and mirrors
    /// it to the standby of the device's home.
    func registerPush(_ register: Relay_V1_PushRegister, user: String, device: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        guard let notifier = store.pushHook.attached else {
            return loop.makeFailedFuture(ChatError(.unavailable, "push is not enabled in region \(configuration.region)"))
        }
        do throws(ChatError) {
            try Self.validatePushTarget(register, allowPrivate: notifier.settings.allowPrivateEndpoints, available: notifier.availableProviders)
        } catch {
            return loop.makeFailedFuture(error)
        }
        return store.pushHook.store.register(device: device, user: user, home: home, target: register, on: loop).flatMap {
            self.mirrorPushRegistration(device: device, user: user, home: home, target: register, on: loop)
        }.map { Self.pushOK() }
    }

    /// Removes the asking device's push target, here and at the standby.
    func unregisterPush(user: String, device: String, home: String, on loop: any EventLoop) -> EventLoopFuture<Relay_V1_Response> {
        store.pushHook.store.unregister(device: device, on: loop).flatMap {
            self.mirrorPushRegistration(device: device, user: user, home: home, target: nil, on: loop)
        }.map { Self.pushOK() }
    }

    /// A registration change from the region serving the device's home.
    func applyPushRegistration(_ update: Relay_V1_PushRegistrationUpdate, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard DeviceID(rawValue: update.device) != nil, UserID(rawValue: update.user) != nil, !update.home.isEmpty, update.home.utf8.count <= 64 else {
            return loop.makeFailedFuture(ChatError(.badRequest, "push registration update names no valid device, user and home"))
        }
        if update.removed {
            return store.pushHook.store.unregister(device: update.device, on: loop)
        }
        // Checked as the home checked it: the copy may become the one that pushes.
        let allowPrivate = store.pushHook.attached?.settings.allowPrivateEndpoints ?? false
        do throws(ChatError) {
            try Self.validatePushTarget(update.target, allowPrivate: allowPrivate, available: Set(PushProvider.allCases))
        } catch {
            return loop.makeFailedFuture(error)
        }
        return store.pushHook.store.register(device: update.device, user: update.user, home: update.home, target: update.target, on: loop)
    }

    /// Refuses a target whose fields are malformed (or, for Web Push, whose
    /// endpoint would make the relay a request forwarder), and one for a
    /// provider the region cannot send to (`unavailable`: no VAPID key, no
    /// APNs key or FCM service account configured), so that no device is
    /// left with a registration that is never served.
    static func validatePushTarget(_ register: Relay_V1_PushRegister, allowPrivate: Bool, available: Set<PushProvider>) throws(ChatError) {
        do throws(PushError) {
            switch register.target {
            case .webPush(let w):
                guard available.contains(.webPush) else { throw PushError(.badKey, "this deployment has no VAPID key (relayctl keys init creates it)") }
                _ = try PushTarget.validatedWebPush(endpoint: w.endpoint, p256dh: Array(w.p256Dh), auth: Array(w.auth), allowPrivate: allowPrivate)
            case .apns(let a):
                guard available.contains(.apns) else { throw PushError(.badKey, "this region sends no APNs pushes (no pushAPNsKeyFile)") }
                _ = try PushTarget.validatedAPNs(token: a.token, topic: a.topic, sandbox: a.sandbox)
            case .fcm(let f):
                guard available.contains(.fcm) else { throw PushError(.badKey, "this region sends no FCM pushes (no pushFCMServiceAccountFile)") }
                _ = try PushTarget.validatedFCM(token: f.token)
            case .none:
                throw PushError(.badTarget, "push_register names no target")
            }
        } catch {
            throw ChatError(error.kind == .badKey ? .unavailable : .badRequest, error.detail)
        }
    }

    private func mirrorPushRegistration(device: String, user: String, home: String, target: Relay_V1_PushRegister?, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let replicator else { return loop.makeSucceededVoidFuture() }
        var update = Relay_V1_PushRegistrationUpdate()
        update.device = device
        update.user = user
        update.home = home
        if let target { update.target = target } else { update.removed = true }
        return replicator.mirror([replicator.frame { $0.pushRegistration = update }], forHome: home, on: loop).map { _ in }
    }

    private static func pushOK() -> Relay_V1_Response {
        var response = Relay_V1_Response()
        response.ok = Relay_V1_Empty()
        return response
    }
}
