import MQTT
import MQTTServer
import NIOCore
import RelayIdentity

/// Authenticates devices by their token (docs/protocol.md, "Connecting"):
/// the CONNECT password is a device token, the user name its `sub`, the
/// client identifier its `dev`.
///
/// | outcome | CONNACK reason code |
/// |---|---|
/// | no user name or password, bad, expired, not yet valid or malformed token, user name ≠ `sub`, `home` not a region of the deployment | 0x86 Bad user name or password |
/// | client identifier ≠ `dev` | 0x85 Client identifier not valid |
/// | ``redirect`` names another server (the device's home is elsewhere) | 0x9C Use another server, with Server Reference |
/// | ``isDeviceActive`` says no (device removed) | 0x87 Not authorized |
///
/// Refusals carry a Reason String for MQTT 5 clients saying which check
/// failed, so that an app can tell "refresh the token" from "re-register".
/// Accepted connections get a principal whose user name is the user id and
/// whose attributes are `user`, `device` and `home` (see ``DeviceAttribute``).
public struct TokenAuthenticator: MQTTAuthenticator {
    /// Whether `device` of `user` is still registered. Consulted last, only
    /// for tokens that passed every other check.
    public typealias DeviceActivity = @Sendable (_ user: String, _ device: String) async -> Bool
    /// The Server Reference (MQTT 5.0 §4.11, e.g. `"eu.relay.example:8883"`)
    /// a device whose claims are these must use instead, or nil to serve it here.
    public typealias Redirect = @Sendable (_ claims: DeviceTokenClaims) -> String?
    /// Admits an active device, or refuses it with a reason code and a
    /// reason string (e.g. 0x97 Quota exceeded: too many devices). Runs
    /// last; may record the device (registration happens before CONNACK).
    public typealias Admission = @Sendable (_ claims: DeviceTokenClaims) async -> (ReasonCode, String)?

    private let verifier: TokenVerifier
    private let regions: Set<String>?
    private let isDeviceActive: DeviceActivity
    private let redirect: Redirect
    private let admit: Admission

    /// An authenticator checking tokens with `verifier`; with `regions`, a
    /// token whose home is not one of them is refused. By default every
    /// device is active and no device is redirected.
    public init(
        verifier: TokenVerifier,
        regions: Set<String>? = nil,
        isDeviceActive: @escaping DeviceActivity = { _, _ in true },
        redirect: @escaping Redirect = { _ in nil },
        admit: @escaping Admission = { _ in nil }
    ) {
        self.verifier = verifier
        self.regions = regions
        self.isDeviceActive = isDeviceActive
        self.redirect = redirect
        self.admit = admit
    }

    /// Decides on `connect` in a task off the event loop; the future
    /// completes on `eventLoop`.
    public func authenticate(_ connect: ConnectPacket, remoteAddress: SocketAddress?, eventLoop: any EventLoop) -> EventLoopFuture<MQTTAuthenticationResult> {
        eventLoop.makeFutureWithTask { await self.authenticate(connect) }
    }

    /// Decides on `connect`.
    public func authenticate(_ connect: ConnectPacket) async -> MQTTAuthenticationResult {
        guard let username = connect.username, !username.isEmpty else {
            return Self.reject(.badUserNameOrPassword, "a user name (the user id) is required")
        }
        guard let password = connect.password, password.readableBytes > 0 else {
            return Self.reject(.badUserNameOrPassword, "a password (the device token) is required")
        }
        guard password.readableBytes <= TokenVerifier.maximumTokenLength else {
            return Self.reject(.badUserNameOrPassword, "malformed token")
        }
        let token = String(buffer: password)

        let claims: DeviceTokenClaims
        do {
            claims = try await verifier.verify(token)
        } catch {
            return Self.reject(.badUserNameOrPassword, Self.reason(for: error))
        }
        guard username == claims.user else {
            return Self.reject(.badUserNameOrPassword, "the user name is not the token's user")
        }
        guard connect.clientIdentifier == claims.device else {
            return Self.reject(.clientIdentifierNotValid, "the client identifier is not the token's device")
        }
        if let regions, !regions.contains(claims.home) {
            return Self.reject(.badUserNameOrPassword, "token home region \(claims.home) is not a region of this deployment")
        }
        if let server = redirect(claims) {
            var properties = MQTTProperties()
            properties.serverReference = server
            properties.reasonString = "home region \(claims.home) is served elsewhere"
            return .reject(.useAnotherServer, properties)
        }
        guard await isDeviceActive(claims.user, claims.device) else {
            return Self.reject(.notAuthorized, "the device is not registered")
        }
        if let (code, reason) = await admit(claims) {
            return Self.reject(code, reason)
        }
        return .accept(MQTTPrincipal(username: claims.user, attributes: [
            DeviceAttribute.user: claims.user,
            DeviceAttribute.device: claims.device,
            DeviceAttribute.home: claims.home,
        ]))
    }

    private static func reject(_ code: ReasonCode, _ reason: String) -> MQTTAuthenticationResult {
        var properties = MQTTProperties()
        properties.reasonString = reason
        return .reject(code, properties)
    }

    /// Short and stable: clients may show or log it; the diagnostics stay here.
    private static func reason(for error: TokenError) -> String {
        switch error.kind {
        case .expired: "token expired"
        case .notYetValid: "token not yet valid"
        case .badSignature: "token signature invalid"
        case .wrongAlgorithm: "token algorithm not EdDSA"
        case .malformed, .invalidIdentifier, .invalidLifetime: "malformed token"
        }
    }
}

/// The keys of the attributes ``TokenAuthenticator`` gives a device's
/// ``MQTTPrincipal``.
public enum DeviceAttribute {
    /// The user id (the token's `sub`).
    public static let user = "user"
    /// The device id (the token's `dev`, also the client identifier).
    public static let device = "device"
    /// The user's home region (the token's `home`).
    public static let home = "home"
}
