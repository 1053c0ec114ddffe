import ArgumentParser
import Foundation
import RelayIdentity
import RelayOps

/// `relayctl token`: device tokens.
public struct RelayCtlTokenCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Issue and inspect device tokens (the MQTT password of a device).",
        subcommands: [Issue.self, Verify.self]
    )

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// `relayctl token issue`: prints a new token, alone on one line.
    public struct Issue: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(
            abstract: "Print a token for a device: the device connects with client id DEVICE, user name USER and the token as password."
        )

        @Option(help: "The user id (1-64 of A-Z a-z 0-9 _ -).")
        var user: String

        @Option(help: "The device id (1-64 of A-Z a-z 0-9 _ -).")
        var device: String

        @Option(help: "How long the token is valid: a number with s, m, h or d (e.g. 3600s, 12h, 30d).")
        var ttl: TokenLifetime = TokenLifetime(seconds: 30 * 86_400)

        @Option(help: "The user's home region.")
        var home: String = "local"

        @Option(help: "Directory holding deployment.key.")
        var keyDir: String = "keys"

        /// For ArgumentParser, which sets the options.
        public init() {}

        /// Runs the command; errors are printed by the caller.
        public func run() async throws {
            let key: DeploymentKey
            do {
                key = try DeploymentKey.load(fromDirectory: keyDir)
            } catch let error as DeploymentKeyError where error.kind == .missing {
                throw RelayCtlError("no deployment key in \(Self.display(keyDir)): run relayctl keys init\(keyDir == "keys" ? "" : " --dir \(keyDir)")")
            } catch let error as DeploymentKeyError {
                throw RelayCtlError(error.description)
            }
            let token: String
            do {
                token = try await TokenIssuer(key: key).issue(user: user, device: device, home: home, ttl: ttl.duration)
            } catch let error as TokenError {
                throw RelayCtlError(error.description)
            }
            StandardOutput.writeLine(token)
        }

        static func display(_ directory: String) -> String {
            directory.hasSuffix("/") ? directory : directory + "/"
        }
    }

    /// `relayctl token verify`: prints a token's claims as JSON.
    public struct Verify: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(
            abstract: "Check a token against the deployment public key and print its claims as JSON.",
            discussion: "Claims: sub (user), dev (device), home (region), iat and exp (seconds since 1970), jti if set."
        )

        @Argument(help: "The token.")
        var token: String

        @Option(help: "Directory holding deployment.pub.")
        var keyDir: String = "keys"

        /// For ArgumentParser, which sets the options.
        public init() {}

        /// Runs the command; errors are printed by the caller.
        public func run() async throws {
            let publicKey: DeploymentPublicKey
            do {
                publicKey = try DeploymentPublicKey.load(fromDirectory: keyDir)
            } catch let error as DeploymentKeyError where error.kind == .missing {
                throw RelayCtlError(
                    "no deployment public key in \(Issue.display(keyDir)): run relayctl keys init, or copy deployment.pub there from where tokens are issued")
            } catch let error as DeploymentKeyError {
                throw RelayCtlError(error.description)
            }
            let claims: DeviceTokenClaims
            do {
                claims = try await TokenVerifier(publicKey: publicKey).verify(token.trimmingCharacters(in: .whitespacesAndNewlines))
            } catch {
                throw RelayCtlError("token not accepted: \(error)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            StandardOutput.writeLine(String(decoding: try encoder.encode(claims), as: UTF8.self))
        }
    }
}
