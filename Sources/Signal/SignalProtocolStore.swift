import Foundation

/// This device's identity and what it knows of its peers' identities.
///
/// `isTrusted` is the trust policy: libsignal-protocol-c asks it before it
/// builds a session from a bundle or a prekey message, and refuses with
/// `SignalError.Code.untrustedIdentity` when it answers false.
public protocol IdentityKeyStore: AnyObject, Sendable {
    /// This device's identity, nil before it was created.
    func localIdentity() throws -> LocalIdentity?
    /// Sets this device's identity (first run).
    func setLocalIdentity(_ identity: LocalIdentity) throws
    /// The identity key last saved for `address`.
    func identity(of address: SignalAddress) throws -> SignalPublicKey?
    /// Saves `key` as `address`'s identity (nil forgets it).
    func saveIdentity(_ key: SignalPublicKey?, for address: SignalAddress) throws
    /// Whether `key` may be used for `address`.
    func isTrusted(_ key: SignalPublicKey, for address: SignalAddress) throws -> Bool
}

/// Double Ratchet session records (`session_record` bytes), per address.
public protocol SessionStore: AnyObject, Sendable {
    /// The record of `address`, nil when there is none.
    func session(for address: SignalAddress) throws -> Data?
    /// Stores `record` for `address`.
    func storeSession(_ record: Data, for address: SignalAddress) throws
    /// The device numbers of `name` with a session (the device numbers other than 1, in Signal's terms, included).
    func sessionDevices(of name: String) throws -> [Int32]
    /// Deletes the session of `address`; whether there was one.
    @discardableResult func deleteSession(for address: SignalAddress) throws -> Bool
    /// Deletes every session of `name`; how many there were.
    @discardableResult func deleteAllSessions(of name: String) throws -> Int
}

/// One-time prekey records (`session_pre_key` bytes), by id.
public protocol PreKeyStore: AnyObject, Sendable {
    /// The record of prekey `id`.
    func preKey(_ id: UInt32) throws -> Data?
    /// Stores a prekey record.
    func storePreKey(_ record: Data, id: UInt32) throws
    /// Deletes prekey `id` (after a session used it).
    func removePreKey(_ id: UInt32) throws
}

/// Signed prekey records (`session_signed_pre_key` bytes), by id.
public protocol SignedPreKeyStore: AnyObject, Sendable {
    /// The record of signed prekey `id`.
    func signedPreKey(_ id: UInt32) throws -> Data?
    /// Stores a signed prekey record.
    func storeSignedPreKey(_ record: Data, id: UInt32) throws
    /// Deletes signed prekey `id`.
    func removeSignedPreKey(_ id: UInt32) throws
    /// The ids of the signed prekeys kept.
    func signedPreKeyIDs() throws -> [UInt32]
}

/// Sender key records (`sender_key_record` bytes), per group and sender.
public protocol SenderKeyStore: AnyObject, Sendable {
    /// The record of `name`.
    func senderKey(for name: SenderKeyName) throws -> Data?
    /// Stores the record of `name`.
    func storeSenderKey(_ record: Data, for name: SenderKeyName) throws
    /// Deletes the record of `name` (to start a new sender key).
    func deleteSenderKey(for name: SenderKeyName) throws
}

/// Everything libsignal-protocol-c keeps, as Swift stores.
public typealias SignalProtocolStore = IdentityKeyStore & SessionStore & PreKeyStore & SignedPreKeyStore & SenderKeyStore
