import Crypto
import Foundation

/// Turns message text into the ciphertext a `Send` carries, and back.
///
/// This is where end-to-end encryption plugs in. Real end-to-end key agreement
/// (Signal-style sessions with the keys from `keys.fetch`) does not exist yet;
/// until it does, `SharedSecretSealer` stands in.
public protocol MessageSealer: Sendable {
    /// Encrypts `plaintext` for `conversation`.
    func seal(_ plaintext: Data, conversation: String) throws -> Data
    /// Decrypts what `seal` produced for `conversation`.
    func open(_ ciphertext: Data, conversation: String) throws -> Data
}

/// PLACEHOLDER, not end-to-end encryption: ChaCha20-Poly1305 under a key
/// derived (HKDF-SHA256) from one secret shared out of band by everyone in the
/// conversation (`--secret` / `RELAY_SECRET`) and the conversation id. The
/// relay sees only ciphertext, but there is no key agreement, no forward
/// secrecy and no per-device keys: anyone with the secret reads everything.
public struct SharedSecretSealer: MessageSealer {
    private let secret: Data
    private static let salt = Data("relay-cli placeholder sealer v1".utf8)

    /// A sealer over `secret`.
    public init(secret: String) {
        self.secret = Data(secret.utf8)
    }

    private func key(for conversation: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), salt: Self.salt, info: Data(conversation.utf8),
                               outputByteCount: 32)
    }

    public func seal(_ plaintext: Data, conversation: String) throws -> Data {
        try ChaChaPoly.seal(plaintext, using: key(for: conversation), authenticating: Data(conversation.utf8)).combined
    }

    public func open(_ ciphertext: Data, conversation: String) throws -> Data {
        let box = try ChaChaPoly.SealedBox(combined: ciphertext)
        return try ChaChaPoly.open(box, using: key(for: conversation), authenticating: Data(conversation.utf8))
    }
}
