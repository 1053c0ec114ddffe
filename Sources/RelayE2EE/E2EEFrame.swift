import Foundation
import Signal

/// What a `Send.ciphertext` or `device_ciphertexts` entry holds
/// (docs/e2ee.md, "Frames"): one type byte, then the Signal message.
public enum E2EEFrame: Sendable, Hashable {
    /// 0x00: nothing for this device (a message meant for others); ignore it.
    case notForYou
    /// 0x01: this device got no copy (the sender does not know it yet); ask for a resend.
    case noCopy
    /// 0x02, 0x03: a pairwise Signal message (whisper or prekey); 0x04: a sender key message.
    case signal(SignalCiphertext)

    /// The frame's bytes.
    public var bytes: Data {
        switch self {
        case .notForYou: Data([0x00])
        case .noCopy: Data([0x01])
        case .signal(let ciphertext): Data([ciphertext.kind.rawValue]) + ciphertext.body
        }
    }

    /// Parses a frame; nil for anything else (an empty payload, an unknown
    /// type byte, a Signal frame without a body, a distribution message,
    /// which only travels inside a pairwise message).
    public init?(_ bytes: Data) {
        guard let type = bytes.first else { return nil }
        let body = Data(bytes.dropFirst())
        switch type {
        case 0x00 where body.isEmpty: self = .notForYou
        case 0x01 where body.isEmpty: self = .noCopy
        case SignalCiphertext.Kind.whisper.rawValue, SignalCiphertext.Kind.preKey.rawValue, SignalCiphertext.Kind.senderKey.rawValue:
            guard !body.isEmpty, let kind = SignalCiphertext.Kind(rawValue: type) else { return nil }
            self = .signal(SignalCiphertext(kind: kind, body: body))
        default:
            return nil
        }
    }
}
