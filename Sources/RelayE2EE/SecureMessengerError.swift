import Signal

/// Why `SecureMessenger` could not send or open a message.
public enum SecureMessengerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `user`'s identity key changed on these devices and was not accepted
    /// (`SecureMessenger.trust(_:)`, or `relay-cli trust USER`).
    case untrustedIdentity(user: String)
    /// `user` has no device with keys in the directory.
    case noKeys(user: String)
    /// The relay answered a request with an error.
    case relay(code: String, message: String)
    /// A delivery's payload is not a frame this client understands.
    case malformedFrame
    /// The Signal library refused (decryption failed, bad bundle, ...).
    case signal(SignalError)
    /// The local state could not be read or written.
    case state(String)

    public var description: String {
        switch self {
        case .untrustedIdentity(let user): "the identity key of \(user) changed; check the safety number and accept it (trust \(user))"
        case .noKeys(let user): "\(user) has no device with keys"
        case .relay(let code, let message): "relay error \(code): \(message)"
        case .malformedFrame: "not an end-to-end encrypted frame"
        case .signal(let error): "\(error)"
        case .state(let text): "local state: \(text)"
        }
    }
}
