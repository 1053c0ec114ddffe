import Foundation

/// A Curve25519 public key as the Signal libraries serialise it: the type
/// byte 0x05 and the 32-byte key.
public struct SignalPublicKey: Hashable, Sendable {
    /// Bytes of a serialised key.
    public static let serializedCount = 33
    /// The type byte of a Curve25519 ("DJB") key.
    public static let djbType: UInt8 = 0x05

    /// The 33 bytes.
    public let serialized: Data

    /// Checks size and type byte.
    public init(serialized: Data) throws(SignalError) {
        guard serialized.count == Self.serializedCount, serialized.first == Self.djbType else {
            throw SignalError(.malformedInput, function: "SignalPublicKey(serialized:)")
        }
        self.serialized = Data(serialized)
    }
}

/// This device's identity: its Curve25519 key pair and its registration id.
public struct LocalIdentity: Sendable, Equatable {
    /// The private identity key (32 bytes, `ec_private_key_serialize`).
    public var privateKey: Data
    /// The public identity key.
    public var publicKey: SignalPublicKey
    /// The registration id (1 ... 16380), chosen once at install time.
    public var registrationID: UInt32

    /// An identity from its parts.
    public init(privateKey: Data, publicKey: SignalPublicKey, registrationID: UInt32) {
        self.privateKey = privateKey
        self.publicKey = publicKey
        self.registrationID = registrationID
    }
}

/// A one-time prekey's public half, as uploaded to the key directory.
public struct PublicPreKey: Hashable, Sendable {
    /// Its id.
    public var id: UInt32
    /// Its public key.
    public var publicKey: SignalPublicKey

    /// A prekey from its parts.
    public init(id: UInt32, publicKey: SignalPublicKey) {
        self.id = id
        self.publicKey = publicKey
    }
}

/// A signed prekey's public half and its XEdDSA signature by the identity key.
public struct PublicSignedPreKey: Hashable, Sendable {
    /// Its id.
    public var id: UInt32
    /// Its public key.
    public var publicKey: SignalPublicKey
    /// XEdDSA signature (64 bytes) by the identity key over `publicKey.serialized`.
    public var signature: Data
    /// When it was made (ms since the Unix epoch).
    public var timestampMs: UInt64

    /// A signed prekey from its parts.
    public init(id: UInt32, publicKey: SignalPublicKey, signature: Data, timestampMs: UInt64) {
        self.id = id
        self.publicKey = publicKey
        self.signature = signature
        self.timestampMs = timestampMs
    }
}

/// What X3DH needs of a peer device (a `keys.fetch` bundle).
public struct PreKeyBundle: Sendable, Hashable {
    /// The peer's registration id.
    public var registrationID: UInt32
    /// The peer's device number.
    public var deviceID: Int32
    /// A one-time prekey, when one was handed out.
    public var preKey: PublicPreKey?
    /// The signed prekey.
    public var signedPreKey: PublicSignedPreKey
    /// The peer's identity key.
    public var identityKey: SignalPublicKey

    /// A bundle from its parts.
    public init(registrationID: UInt32, deviceID: Int32, preKey: PublicPreKey?, signedPreKey: PublicSignedPreKey, identityKey: SignalPublicKey) {
        self.registrationID = registrationID
        self.deviceID = deviceID
        self.preKey = preKey
        self.signedPreKey = signedPreKey
        self.identityKey = identityKey
    }
}

/// A Signal ciphertext and its type, as `ciphertext_message_get_type` gives it.
public struct SignalCiphertext: Hashable, Sendable {
    /// The Signal message types (`CIPHERTEXT_*_TYPE`).
    public enum Kind: UInt8, Sendable, Hashable {
        /// A Double Ratchet message of an established session (`signal_message`, "whisper").
        case whisper = 2
        /// A message that also sets up the session (`pre_key_signal_message`).
        case preKey = 3
        /// A group message under a sender key (`sender_key_message`).
        case senderKey = 4
        /// A sender key distribution (`sender_key_distribution_message`).
        case senderKeyDistribution = 5
    }

    /// The type.
    public var kind: Kind
    /// The serialised Signal message.
    public var body: Data

    /// A ciphertext from its parts.
    public init(kind: Kind, body: Data) {
        self.kind = kind
        self.body = body
    }
}
