import Foundation
import MQTT
import MQTTServer
import NIOCore
import NIOPosix
import RelayChat
import RelayIdentity
import Testing

/// 2025-01-01T00:00:00Z.
private let epoch = Date(timeIntervalSince1970: 1_735_689_600)

/// What an authenticator decided, flattened for comparison.
private enum Outcome: Equatable {
    case accept(MQTTPrincipal)
    case reject(UInt8, serverReference: String?)

    init(_ result: MQTTAuthenticationResult) {
        switch result {
        case .accept(let principal): self = .accept(principal)
        case .reject(let code, let properties): self = .reject(code.rawValue, serverReference: properties.serverReference)
        }
    }
}

private struct TimedOut: Error {}

/// Runs `body`, failing if it takes longer than `seconds`.
private func within<T: Sendable>(seconds: Int = 10, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut()
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
}

@Suite struct TokenAuthenticatorTests {
    let key: DeploymentKey
    let issuer: TokenIssuer
    let verifier: TokenVerifier

    init() throws {
        key = try DeploymentKey.generate()
        issuer = TokenIssuer(key: key, now: { epoch })
        verifier = TokenVerifier(publicKey: key.publicKey, now: { epoch.addingTimeInterval(5) })
    }

    private func token(user: String = "alice", device: String = "alice-phone", home: String = "eu", ttl: Duration = .seconds(3600)) async throws -> String {
        try await issuer.issue(user: user, device: device, home: home, ttl: ttl)
    }

    private func connect(
        _ version: ProtocolVersion = .v5, clientID: String = "alice-phone", username: String? = "alice", password: String?
    ) -> ConnectPacket {
        ConnectPacket(
            protocolVersion: version, clientIdentifier: clientID, cleanStart: false,
            username: username, password: password.map { ByteBuffer(string: $0) })
    }

    /// Runs `authenticator` on a real one-thread event loop, as the server does.
    private func decide(_ authenticator: TokenAuthenticator, _ packet: ConnectPacket) async throws -> (Outcome, MQTTProperties?) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        let result = try await within {
            let future = authenticator.authenticate(packet, remoteAddress: nil, eventLoop: loop)
            #expect(future.eventLoop === loop)
            return try await future.get()
        }
        if case .reject(_, let properties) = result { return (Outcome(result), properties) }
        return (Outcome(result), nil)
    }

    @Test(arguments: [ProtocolVersion.v5, .v311])
    func validTokenIsAccepted(version: ProtocolVersion) async throws {
        let authenticator = TokenAuthenticator(verifier: verifier)
        let (outcome, _) = try await decide(authenticator, connect(version, password: try await token()))
        #expect(outcome == .accept(MQTTPrincipal(
            username: "alice", attributes: ["user": "alice", "device": "alice-phone", "home": "eu"])))
    }

    @Test func missingCredentialsAreBadUserNameOrPassword() async throws {
        let authenticator = TokenAuthenticator(verifier: verifier)
        let valid = try await token()
        for packet in [
            connect(password: nil), connect(password: ""),
            connect(username: nil, password: valid), connect(username: "", password: valid),
        ] {
            let (outcome, properties) = try await decide(authenticator, packet)
            #expect(outcome == .reject(0x86, serverReference: nil))
            #expect(properties?.reasonString?.contains("required") == true)
        }
    }

    @Test func badTokensAreBadUserNameOrPassword() async throws {
        let authenticator = TokenAuthenticator(verifier: verifier)
        let expired = try await token(ttl: .seconds(1))
        let late = TokenAuthenticator(verifier: TokenVerifier(publicKey: key.publicKey, now: { epoch.addingTimeInterval(3600) }))
        let (expiredOutcome, expiredProperties) = try await decide(late, connect(password: expired))
        #expect(expiredOutcome == .reject(0x86, serverReference: nil))
        #expect(expiredProperties?.reasonString == "token expired")

        let foreign = try await TokenIssuer(key: try DeploymentKey.generate(), now: { epoch })
            .issue(user: "alice", device: "alice-phone", home: "eu", ttl: .seconds(3600))
        let cases: [(String, String)] = [
            (foreign, "token signature invalid"),
            ("not-a-token", "malformed token"),
            (String(repeating: "x", count: 5000), "malformed token"),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "token algorithm not EdDSA"),
        ]
        for (password, reason) in cases {
            let (outcome, properties) = try await decide(authenticator, connect(password: password))
            #expect(outcome == .reject(0x86, serverReference: nil))
            #expect(properties?.reasonString == reason)
        }
    }

    @Test func userNameMustBeTheTokensUser() async throws {
        let authenticator = TokenAuthenticator(verifier: verifier)
        let (outcome, _) = try await decide(authenticator, connect(username: "bob", password: try await token()))
        #expect(outcome == .reject(0x86, serverReference: nil))
    }

    @Test func clientIdentifierMustBeTheTokensDevice() async throws {
        let authenticator = TokenAuthenticator(verifier: verifier)
        for clientID in ["alice-laptop", ""] {
            let (outcome, _) = try await decide(authenticator, connect(clientID: clientID, password: try await token()))
            #expect(outcome == .reject(0x85, serverReference: nil))
        }
    }

    @Test func inactiveDeviceIsNotAuthorized() async throws {
        let asked = AskedDevices()
        let authenticator = TokenAuthenticator(verifier: verifier, isDeviceActive: { user, device in
            await asked.append(user, device)
            return device != "alice-phone"
        })
        let (outcome, _) = try await decide(authenticator, connect(password: try await token()))
        #expect(outcome == .reject(0x87, serverReference: nil))
        #expect(await asked.pairs == [["alice", "alice-phone"]])

        let (other, _) = try await decide(authenticator, connect(clientID: "alice-tablet", password: try await token(device: "alice-tablet")))
        #expect(other == .accept(MQTTPrincipal(
            username: "alice", attributes: ["user": "alice", "device": "alice-tablet", "home": "eu"])))
    }

    @Test func deviceOfAnotherRegionIsSentThere() async throws {
        let authenticator = TokenAuthenticator(
            verifier: verifier,
            isDeviceActive: { _, _ in false },  // the home region decides that, not this one
            redirect: { claims in claims.home == "eu" ? nil : "\(claims.home).relay.test:8883" })
        let (outcome, properties) = try await decide(authenticator, connect(password: try await token(home: "us")))
        #expect(outcome == .reject(0x9C, serverReference: "us.relay.test:8883"))
        #expect(properties?.reasonString?.contains("us") == true)

        // The redirect is not consulted before the token is verified.
        let (forged, _) = try await decide(authenticator, connect(password: "a.b.c"))
        #expect(forged == .reject(0x86, serverReference: nil))
    }

    @Test func aTokenWhoseHomeIsNoRegionOfTheDeploymentIsRefused() async throws {
        let authenticator = TokenAuthenticator(verifier: verifier, regions: ["eu", "us"])
        let (known, _) = try await decide(authenticator, connect(password: try await token(home: "us")))
        #expect(known == .accept(MQTTPrincipal(username: "alice", attributes: ["user": "alice", "device": "alice-phone", "home": "us"])))
        let (unknown, properties) = try await decide(authenticator, connect(password: try await token(home: "mars")))
        #expect(unknown == .reject(0x86, serverReference: nil))
        #expect(properties?.reasonString == "token home region mars is not a region of this deployment")
    }

    @Test func reasonCodesAreTheProtocolsOnes() {
        #expect(ReasonCode.badUserNameOrPassword.rawValue == 0x86)
        #expect(ReasonCode.clientIdentifierNotValid.rawValue == 0x85)
        #expect(ReasonCode.notAuthorized.rawValue == 0x87)
        #expect(ReasonCode.useAnotherServer.rawValue == 0x9C)
    }
}

private actor AskedDevices {
    var pairs: [[String]] = []
    func append(_ user: String, _ device: String) { pairs.append([user, device]) }
}
