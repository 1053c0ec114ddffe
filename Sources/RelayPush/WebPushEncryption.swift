import Crypto
import Foundation

/// A Web Push subscription's keys (RFC 8291 §2): the user agent's P-256
/// public key (`p256dh`, 65 bytes uncompressed) and its authentication
/// secret (`auth`, 16 bytes).
public struct WebPushKeys: Sendable, Equatable {
    /// `p256dh`: the user agent's public key, X9.63 uncompressed.
    public let publicKey: [UInt8]
    /// `auth`: the shared authentication secret.
    public let authSecret: [UInt8]

    /// Keys checked for shape: a point on P-256 and a 16-byte secret.
    public init(publicKey: [UInt8], authSecret: [UInt8]) throws(PushError) {
        guard publicKey.count == 65, publicKey.first == 0x04,
              (try? P256.KeyAgreement.PublicKey(x963Representation: publicKey)) != nil
        else { throw PushError(.badTarget, "p256dh is not an uncompressed P-256 public key (65 bytes)") }
        guard authSecret.count == 16 else { throw PushError(.badTarget, "auth is not 16 bytes") }
        self.publicKey = publicKey
        self.authSecret = authSecret
    }
}

/// RFC 8291 message encryption for Web Push, `aes128gcm` content coding
/// (RFC 8188) with a single record.
public enum WebPushEncryption {
    /// The record size written in the header (RFC 8188 §2.1).
    public static let recordSize: UInt32 = 4096
    /// The largest plaintext a single record carries: the record size less
    /// the delimiter (1) and the AEAD tag (16). Push services accept at
    /// least 4096 bytes of body (RFC 8030 §7.2), header included, so this
    /// relay sends far less: an opaque hint only.
    public static let maximumPlaintext = Int(recordSize) - 17 - 86

    /// Encrypts `plaintext` to `keys` with a fresh ephemeral key and salt.
    public static func encrypt(_ plaintext: [UInt8], to keys: WebPushKeys) throws(PushError) -> [UInt8] {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: .min ... .max, using: &generator) }
        return try encrypt(plaintext, to: keys, ephemeral: P256.KeyAgreement.PrivateKey(), salt: salt)
    }

    /// Encrypts with a given ephemeral key and salt (RFC 8291 Appendix A's
    /// vector fixes both): `salt ‖ rs ‖ idlen ‖ as_public ‖ ciphertext`.
    public static func encrypt(_ plaintext: [UInt8], to keys: WebPushKeys, ephemeral: P256.KeyAgreement.PrivateKey, salt: [UInt8]) throws(PushError) -> [UInt8] {
        guard plaintext.count <= maximumPlaintext else { throw PushError(.tooLarge, "a push body holds at most \(maximumPlaintext) bytes") }
        guard salt.count == 16 else { throw PushError(.badTarget, "the salt is not 16 bytes") }
        let senderPublic = Array(ephemeral.publicKey.x963Representation)
        let (key, nonce) = try derive(private: ephemeral, peer: keys.publicKey, authSecret: keys.authSecret,
                                      receiverPublic: keys.publicKey, senderPublic: senderPublic, salt: salt)
        let padded = plaintext + [0x02]  // the last (and only) record's delimiter (RFC 8188 §2)
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try AES.GCM.seal(padded, using: key, nonce: nonce)
        } catch {
            throw PushError(.crypto, "AES-GCM failed: \(error)")
        }
        var body = salt
        withUnsafeBytes(of: recordSize.bigEndian) { body.append(contentsOf: $0) }
        body.append(UInt8(senderPublic.count))
        body += senderPublic
        body += Array(sealed.ciphertext) + Array(sealed.tag)
        return body
    }

    /// Decrypts a body with the user agent's private key (what a browser
    /// does; here for tests and tools).
    public static func decrypt(_ body: [UInt8], with receiver: P256.KeyAgreement.PrivateKey, authSecret: [UInt8]) throws(PushError) -> [UInt8] {
        guard body.count >= 21 else { throw PushError(.crypto, "the body is shorter than its header") }
        let salt = Array(body[0..<16])
        let idLength = Int(body[20])
        guard idLength == 65, body.count >= 21 + idLength + 16 else { throw PushError(.crypto, "the key id is not a P-256 public key") }
        let senderPublic = Array(body[21..<(21 + idLength)])
        let receiverPublic = Array(receiver.publicKey.x963Representation)
        let (key, nonce) = try derive(private: receiver, peer: senderPublic, authSecret: authSecret,
                                      receiverPublic: receiverPublic, senderPublic: senderPublic, salt: salt)
        let sealed = Array(body[(21 + idLength)...])
        let padded: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
            padded = Array(try AES.GCM.open(box, using: key))
        } catch {
            throw PushError(.crypto, "the body does not decrypt: \(error)")
        }
        guard let delimiter = padded.lastIndex(where: { $0 != 0 }), padded[delimiter] == 0x02 else {
            throw PushError(.crypto, "the record has no last-record delimiter")
        }
        return Array(padded[..<delimiter])
    }

    /// RFC 8291 §3.3–3.4 and RFC 8188 §2.2–2.3: the content encryption key and nonce.
    static func derive(private: P256.KeyAgreement.PrivateKey, peer: [UInt8], authSecret: [UInt8],
                       receiverPublic: [UInt8], senderPublic: [UInt8], salt: [UInt8]) throws(PushError) -> (SymmetricKey, AES.GCM.Nonce) {
        let shared: SharedSecret
        do {
            shared = try `private`.sharedSecretFromKeyAgreement(with: P256.KeyAgreement.PublicKey(x963Representation: peer))
        } catch {
            throw PushError(.badTarget, "the public key is not a P-256 point")
        }
        let ecdhSecret = shared.withUnsafeBytes { Array($0) }
        // PRK_key = HMAC(auth_secret, ecdh_secret); IKM = HMAC(PRK_key, key_info ‖ 0x01)
        let keyInfo = Array("WebPush: info".utf8) + [0] + receiverPublic + senderPublic
        let prkKey = hmac(key: authSecret, ecdhSecret)
        let ikm = hmac(key: prkKey, keyInfo + [1])
        // PRK = HMAC(salt, IKM); CEK and NONCE expanded from it.
        let prk = hmac(key: salt, ikm)
        let cek = hmac(key: prk, Array("Content-Encoding: aes128gcm".utf8) + [0, 1]).prefix(16)
        let nonce = hmac(key: prk, Array("Content-Encoding: nonce".utf8) + [0, 1]).prefix(12)
        do {
            return (SymmetricKey(data: Array(cek)), try AES.GCM.Nonce(data: Array(nonce)))
        } catch {
            throw PushError(.crypto, "nonce: \(error)")
        }
    }

    static func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }
}
