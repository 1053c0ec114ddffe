import JWTKit

/// The deployment's Ed25519 signing key: it signs device tokens.
///
/// On disk a key pair is two PEM files in one directory, the same forms
/// OpenSSL uses for Ed25519 (`openssl genpkey -algorithm ed25519`):
///
/// - `deployment.key`: the private key, PKCS #8 (`-----BEGIN PRIVATE KEY-----`),
///   file mode 0600. Only token issuers (`relayctl token issue`) need it.
/// - `deployment.pub`: the public key, SubjectPublicKeyInfo
///   (`-----BEGIN PUBLIC KEY-----`). Every relay node holds it to verify tokens;
///   `openssl pkey -in deployment.key -pubout` derives it.
public struct DeploymentKey: Sendable, Equatable {
    /// The private key's file name in a key directory.
    public static let privateKeyFileName = "deployment.key"
    /// The public key's file name in a key directory.
    public static let publicKeyFileName = "deployment.pub"

    let key: EdDSA.PrivateKey

    init(key: EdDSA.PrivateKey) {
        self.key = key
    }

    /// A new random key.
    public static func generate() throws -> DeploymentKey {
        DeploymentKey(key: try EdDSA.PrivateKey(curve: .ed25519))
    }

    /// The key in `pem`, a PKCS #8 `PRIVATE KEY` block holding an Ed25519 key.
    public init(pem: String) throws {
        do {
            self.key = try EdDSA.PrivateKey(pem: pem)
        } catch {
            throw DeploymentKeyError(.malformed, path: "", "not an Ed25519 private key in PKCS #8 PEM: \(error)")
        }
    }

    /// The private key as a PKCS #8 PEM block.
    public var pemRepresentation: String { key.pemRepresentation }

    /// The public half, which verifies what this key signs.
    public var publicKey: DeploymentPublicKey { DeploymentPublicKey(key: key.publicKey) }

    /// Where the private key lives in `directory`.
    public static func privateKeyPath(inDirectory directory: String) -> String {
        KeyFile.join(directory, privateKeyFileName)
    }

    /// Whether `directory` holds a private key file (readable or not).
    public static func exists(inDirectory directory: String) -> Bool {
        KeyFile.exists(privateKeyPath(inDirectory: directory))
    }

    /// Writes `deployment.key` (mode 0600) and `deployment.pub` (mode 0644)
    /// into `directory`, creating it with mode 0700 if needed.
    ///
    /// The private key is never overwritten: if `deployment.key` is already
    /// there this throws ``DeploymentKeyError/Kind/alreadyExists`` and
    /// changes nothing. A `deployment.pub` without its private key is replaced.
    public func write(toDirectory directory: String) throws {
        try KeyFile.makeDirectory(directory)
        try KeyFile.createExclusively(
            Self.privateKeyPath(inDirectory: directory), contents: Self.pemFile(pemRepresentation), mode: 0o600)
        try KeyFile.replace(
            DeploymentPublicKey.path(inDirectory: directory), contents: Self.pemFile(publicKey.pemRepresentation), mode: 0o644)
    }

    /// A PEM block as a text file: ending in a newline, as OpenSSL writes it.
    private static func pemFile(_ pem: String) -> String {
        pem.hasSuffix("\n") ? pem : pem + "\n"
    }

    /// Reads `deployment.key` from `directory`.
    public static func load(fromDirectory directory: String) throws -> DeploymentKey {
        let path = privateKeyPath(inDirectory: directory)
        let pem = try KeyFile.read(path, what: "deployment private key")
        do {
            return DeploymentKey(key: try EdDSA.PrivateKey(pem: pem))
        } catch {
            throw DeploymentKeyError(.malformed, path: path, "\(path) is not an Ed25519 private key in PKCS #8 PEM")
        }
    }
}

/// The public half of the deployment key: what relay nodes hold to verify
/// device tokens. See ``DeploymentKey`` for the file format.
public struct DeploymentPublicKey: Sendable, Equatable {
    let key: EdDSA.PublicKey

    init(key: EdDSA.PublicKey) {
        self.key = key
    }

    /// The key in `pem`, a SubjectPublicKeyInfo `PUBLIC KEY` block holding an
    /// Ed25519 key.
    public init(pem: String) throws {
        do {
            self.key = try EdDSA.PublicKey(pem: pem)
        } catch {
            throw DeploymentKeyError(.malformed, path: "", "not an Ed25519 public key in PEM: \(error)")
        }
    }

    /// The public key as a SubjectPublicKeyInfo PEM block.
    public var pemRepresentation: String { key.pemRepresentation }

    /// Where the public key lives in `directory`.
    public static func path(inDirectory directory: String) -> String {
        KeyFile.join(directory, DeploymentKey.publicKeyFileName)
    }

    /// Reads `deployment.pub` from `directory`.
    public static func load(fromDirectory directory: String) throws -> DeploymentPublicKey {
        let path = path(inDirectory: directory)
        let pem = try KeyFile.read(path, what: "deployment public key")
        do {
            return DeploymentPublicKey(key: try EdDSA.PublicKey(pem: pem))
        } catch {
            throw DeploymentKeyError(.malformed, path: path, "\(path) is not an Ed25519 public key in PEM")
        }
    }
}
