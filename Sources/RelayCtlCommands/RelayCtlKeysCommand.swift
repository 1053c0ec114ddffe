import ArgumentParser
import RelayChat
import RelayIdentity
import RelayOps
import RelayReplication

/// `relayctl keys`: the deployment key pair.
public struct RelayCtlKeysCommand: AsyncParsableCommand {
    /// Name and help text.
    public static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the deployment key pair that signs device tokens.",
        subcommands: [Init.self]
    )

    /// For ArgumentParser, which sets the options.
    public init() {}

    /// `relayctl keys init`: creates the key pair unless there is one.
    public struct Init: AsyncParsableCommand {
        /// Name and help text.
        public static let configuration = CommandConfiguration(
            abstract: "Create the deployment key pair (deployment.key, mode 0600, and deployment.pub), the peer secret (peer.secret, mode 0600), the VAPID key for Web Push (vapid.key, mode 0600) and the operations console's operator token (console.token, mode 0600) if absent.",
            discussion: """
                Both key files are PEM, as OpenSSL writes Ed25519 keys: the private key PKCS #8, \
                the public key SubjectPublicKeyInfo. An existing deployment.key is never replaced: \
                the command then prints "exists" and changes nothing. Relay nodes need only deployment.pub \
                and peer.secret (32 random bytes as hex, from which each region's password to the \
                other regions' peer listeners is derived); an existing peer.secret is never replaced either. \
                console.token (64 hex digits) is what relayctl console asks of whoever opens it.
                """
        )

        @Option(help: "Directory for the key files.")
        var dir: String = "keys"

        /// For ArgumentParser, which sets the options.
        public init() {}

        /// Runs the command; errors are printed by the caller.
        public func run() async throws {
            try createDeploymentKey()
            try createPeerSecret()
            try createVAPIDKey()
            try createConsoleToken()
        }

        private func createDeploymentKey() throws {
            let keyPath = DeploymentKey.privateKeyPath(inDirectory: dir)
            if DeploymentKey.exists(inDirectory: dir) {
                StandardOutput.writeLine("exists: \(keyPath) (left as it is)")
                return
            }
            do {
                try DeploymentKey.generate().write(toDirectory: dir)
            } catch let error as DeploymentKeyError where error.kind == .alreadyExists {
                StandardOutput.writeLine("exists: \(keyPath) (left as it is)")
                return
            } catch let error as DeploymentKeyError {
                throw RelayCtlError(error.description)
            }
            StandardOutput.writeLine("created \(keyPath) and \(DeploymentPublicKey.path(inDirectory: dir))")
        }

        private func createPeerSecret() throws {
            let path = PeerCredentials.path(inDirectory: dir)
            if PeerCredentials.exists(inDirectory: dir) {
                StandardOutput.writeLine("exists: \(path) (left as it is)")
                return
            }
            do {
                try PeerCredentials.generate().write(toDirectory: dir)
            } catch where error.exists {
                StandardOutput.writeLine("exists: \(path) (left as it is)")
                return
            } catch {
                throw RelayCtlError(error.description)
            }
            StandardOutput.writeLine("created \(path)")
        }

        private func createConsoleToken() throws {
            let path = ConsoleTokenFile.path(inDirectory: dir)
            do {
                if try ConsoleTokenFile.create(inDirectory: dir) {
                    StandardOutput.writeLine("created \(path)")
                } else {
                    StandardOutput.writeLine("exists: \(path) (left as it is)")
                }
            } catch {
                throw RelayCtlError(error.description)
            }
        }

        private func createVAPIDKey() throws {
            let path = VAPIDKeyFile.path(inDirectory: dir)
            do {
                if try VAPIDKeyFile.create(inDirectory: dir) {
                    StandardOutput.writeLine("created \(path)")
                } else {
                    StandardOutput.writeLine("exists: \(path) (left as it is)")
                }
            } catch {
                throw RelayCtlError(error.description)
            }
        }
    }
}
