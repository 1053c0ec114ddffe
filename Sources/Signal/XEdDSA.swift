import CSignal
import Foundation

/// XEdDSA signatures over Curve25519 keys (the Signal specification "The
/// XEdDSA and VXEdDSA Signature Schemes"), as libsignal-protocol-c's
/// `curve_verify_signature` checks them: how a signed prekey is signed by
/// an identity key.
public enum XEdDSA {
    /// Bytes of a signature.
    public static let signatureCount = 64

    /// Whether `signature` is `publicKey`'s XEdDSA signature of `message`.
    /// Malformed keys or signatures are simply not valid.
    public static func isValidSignature(_ signature: Data, of message: Data, by publicKey: SignalPublicKey) -> Bool {
        guard signature.count == signatureCount else { return false }
        var point: OpaquePointer?
        let decoded = publicKey.serialized.withUnsafeBytes { raw in
            curve_decode_point(&point, raw.bindMemory(to: UInt8.self).baseAddress, raw.count, nil)
        }
        guard decoded == 0, let point else { return false }
        defer { unref(point) }
        let verified = message.withUnsafeBytes { m in
            signature.withUnsafeBytes { s in
                curve_verify_signature(point, m.bindMemory(to: UInt8.self).baseAddress, m.count, s.bindMemory(to: UInt8.self).baseAddress, s.count)
            }
        }
        return verified == 1
    }
}
