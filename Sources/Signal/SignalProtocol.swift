import CSignal
import Foundation
import Synchronization

/// The Signal protocol for one device, over libsignal-protocol-c: X3DH
/// session set-up from a prekey bundle, the Double Ratchet per peer device,
/// Sender Keys per group, key generation, safety numbers.
///
/// Owns the library's global context (`signal_context`, with the OpenSSL
/// crypto provider) and its store context (`signal_protocol_store_context`,
/// whose callbacks reach `store`); both are destroyed in `deinit`, the store
/// context first. Builders and ciphers live for one call each.
///
/// `@unchecked Sendable` is safe because: libsignal-protocol-c is not
/// thread-safe, so every call into it (and so every store callback) runs
/// under `lock`; the handles are `let`s set in `init` and freed in `deinit`.
public final class SignalProtocol: @unchecked Sendable {
    /// The stores.
    public let store: any SignalProtocolStore
    private let context: OpaquePointer
    private let storeContext: OpaquePointer
    private let bridge: StoreBridge
    private let lock = Mutex<Void>(())

    /// A protocol instance over `store`. Call `createIdentity()` once when
    /// `store.localIdentity()` is nil.
    public init(store: any SignalProtocolStore) throws(SignalError) {
        self.store = store
        bridge = StoreBridge(store: store)
        var global: OpaquePointer?
        try SignalError.check(signal_context_create(&global, nil), "signal_context_create")
        guard let global else { throw SignalError(.noMemory, function: "signal_context_create") }
        var provider = OpenSSLCryptoProvider.make()
        var storeContext: OpaquePointer?
        let created = signal_context_set_crypto_provider(global, &provider) == 0
            && signal_protocol_store_context_create(&storeContext, global) == 0
        guard created, let storeContext else {
            signal_context_destroy(global)
            throw SignalError(.noMemory, function: "signal_protocol_store_context_create")
        }
        let userData = Unmanaged.passUnretained(bridge).toOpaque()
        var session = StoreCallbacks.session(userData)
        var preKey = StoreCallbacks.preKey(userData)
        var signedPreKey = StoreCallbacks.signedPreKey(userData)
        var identity = StoreCallbacks.identity(userData)
        var senderKey = StoreCallbacks.senderKey(userData)
        // The setters copy the tables.
        let stored = signal_protocol_store_context_set_session_store(storeContext, &session) == 0
            && signal_protocol_store_context_set_pre_key_store(storeContext, &preKey) == 0
            && signal_protocol_store_context_set_signed_pre_key_store(storeContext, &signedPreKey) == 0
            && signal_protocol_store_context_set_identity_key_store(storeContext, &identity) == 0
            && signal_protocol_store_context_set_sender_key_store(storeContext, &senderKey) == 0
        guard stored else {
            signal_protocol_store_context_destroy(storeContext)
            signal_context_destroy(global)
            throw SignalError(.invalidArgument, function: "signal_protocol_store_context_set_*")
        }
        self.context = global
        self.storeContext = storeContext
    }

    deinit {
        signal_protocol_store_context_destroy(storeContext)
        signal_context_destroy(context)
    }

    /// Runs `body` under the lock; a library error caused by a store's
    /// failure is reported as `.storeFailed`.
    private func locked<T>(_ body: () throws(SignalError) -> T) throws(SignalError) -> T {
        try lock.withLock { _ throws(SignalError) -> T in
            bridge.lastError = nil
            do throws(SignalError) {
                return try body()
            } catch {
                if bridge.lastError != nil {
                    bridge.lastError = nil
                    throw SignalError(.storeFailed, function: error.function)
                }
                throw error
            }
        }
    }

    // MARK: - Keys

    /// Creates this device's identity key pair and registration id and stores them.
    @discardableResult
    public func createIdentity() throws(SignalError) -> LocalIdentity {
        try locked { () throws(SignalError) -> LocalIdentity in
            var pair: OpaquePointer?
            try SignalError.check(signal_protocol_key_helper_generate_identity_key_pair(&pair, context), "generate_identity_key_pair")
            defer { unref(pair) }
            var registrationID: UInt32 = 0
            try SignalError.check(signal_protocol_key_helper_generate_registration_id(&registrationID, 0, context), "generate_registration_id")
            let publicKey = try SignalPublicKey(serialized: serialize(ratchet_identity_key_pair_get_public(pair), ec_public_key_serialize))
            let privateKey = try serialize(ratchet_identity_key_pair_get_private(pair), ec_private_key_serialize)
            let identity = LocalIdentity(privateKey: privateKey, publicKey: publicKey, registrationID: registrationID)
            do throws(any Error) {
                try store.setLocalIdentity(identity)
            } catch {
                throw SignalError(.storeFailed, function: "setLocalIdentity")
            }
            return identity
        }
    }

    /// Generates `count` one-time prekeys with ids from `start` (wrapping
    /// within 1 ... 0xFFFFFE), stores their private halves, returns the public ones.
    public func generatePreKeys(start: UInt32, count: Int) throws(SignalError) -> [PublicPreKey] {
        guard count > 0, count <= 10_000 else { throw SignalError(.invalidArgument, function: "generatePreKeys") }
        return try locked { () throws(SignalError) -> [PublicPreKey] in
            var head: OpaquePointer?
            try SignalError.check(signal_protocol_key_helper_generate_pre_keys(&head, start, UInt32(count), context), "generate_pre_keys")
            defer { signal_protocol_key_helper_key_list_free(head) }
            var result: [PublicPreKey] = []
            var node = head
            while let current = node {
                let preKey = signal_protocol_key_helper_key_list_element(current)
                let id = session_pre_key_get_id(preKey)
                let record = try serialize(preKey, session_pre_key_serialize)
                let publicKey = try SignalPublicKey(serialized: serialize(ec_key_pair_get_public(session_pre_key_get_key_pair(preKey)), ec_public_key_serialize))
                do {
                    try store.storePreKey(record, id: id)
                } catch {
                    throw SignalError(.storeFailed, function: "storePreKey")
                }
                result.append(PublicPreKey(id: id, publicKey: publicKey))
                node = signal_protocol_key_helper_key_list_next(current)
            }
            return result
        }
    }

    /// Generates one prekey with exactly `id` (e.g. the last-resort prekey,
    /// 0xFFFFFF, which the id-wrapping helper never makes), stores it, returns its public half.
    public func generatePreKey(id: UInt32) throws(SignalError) -> PublicPreKey {
        try locked { () throws(SignalError) -> PublicPreKey in
            var pair: OpaquePointer?
            try SignalError.check(curve_generate_key_pair(context, &pair), "curve_generate_key_pair")
            defer { unref(pair) }
            var preKey: OpaquePointer?
            try SignalError.check(session_pre_key_create(&preKey, id, pair), "session_pre_key_create")
            defer { unref(preKey) }
            let record = try serialize(preKey, session_pre_key_serialize)
            let publicKey = try SignalPublicKey(serialized: serialize(ec_key_pair_get_public(pair), ec_public_key_serialize))
            do throws(any Error) {
                try store.storePreKey(record, id: id)
            } catch {
                throw SignalError(.storeFailed, function: "storePreKey")
            }
            return PublicPreKey(id: id, publicKey: publicKey)
        }
    }

    /// Generates signed prekey `id` (signed with the identity key, XEdDSA), stores it, returns its public half.
    public func generateSignedPreKey(id: UInt32, timestampMs: UInt64) throws(SignalError) -> PublicSignedPreKey {
        try locked { () throws(SignalError) -> PublicSignedPreKey in
            var pair: OpaquePointer?
            try SignalError.check(signal_protocol_identity_get_key_pair(storeContext, &pair), "identity_get_key_pair")
            defer { unref(pair) }
            var signed: OpaquePointer?
            try SignalError.check(signal_protocol_key_helper_generate_signed_pre_key(&signed, pair, id, timestampMs, context), "generate_signed_pre_key")
            defer { unref(signed) }
            try SignalError.check(signal_protocol_signed_pre_key_store_key(storeContext, signed), "signed_pre_key_store_key")
            let publicKey = try SignalPublicKey(serialized: serialize(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed)), ec_public_key_serialize))
            let signature = data(session_signed_pre_key_get_signature(signed), session_signed_pre_key_get_signature_len(signed))
            return PublicSignedPreKey(id: id, publicKey: publicKey, signature: signature, timestampMs: timestampMs)
        }
    }

    /// The public half of stored signed prekey `id`, nil when it is not stored.
    public func signedPreKey(id: UInt32) throws(SignalError) -> PublicSignedPreKey? {
        try locked { () throws(SignalError) -> PublicSignedPreKey? in
            guard (try? store.signedPreKey(id)) != nil else { return nil }
            var signed: OpaquePointer?
            try SignalError.check(signal_protocol_signed_pre_key_load_key(storeContext, &signed, id), "signed_pre_key_load_key")
            defer { unref(signed) }
            let publicKey = try SignalPublicKey(serialized: serialize(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed)), ec_public_key_serialize))
            let signature = data(session_signed_pre_key_get_signature(signed), session_signed_pre_key_get_signature_len(signed))
            return PublicSignedPreKey(id: id, publicKey: publicKey, signature: signature, timestampMs: session_signed_pre_key_get_timestamp(signed))
        }
    }

    // MARK: - Sessions (X3DH, Double Ratchet)

    /// Whether there is a session with `address`.
    public func hasSession(with address: SignalAddress) throws(SignalError) -> Bool {
        try locked { () throws(SignalError) -> Bool in
            try address.withC { a throws(SignalError) -> Bool in
                let result = signal_protocol_session_contains_session(storeContext, a)
                try SignalError.check(result, "session_contains_session")
                return result == 1
            }
        }
    }

    /// X3DH: builds a session with `address` from its bundle (the bundle's
    /// signature is checked, and its identity by the store's trust policy).
    public func processBundle(_ bundle: PreKeyBundle, for address: SignalAddress) throws(SignalError) {
        try locked { () throws(SignalError) in
            let identity = try decodePoint(bundle.identityKey)
            defer { unref(identity) }
            let signed = try decodePoint(bundle.signedPreKey.publicKey)
            defer { unref(signed) }
            let preKey = try bundle.preKey.map { p throws(SignalError) in try decodePoint(p.publicKey) }
            defer { unref(preKey) }
            var cBundle: OpaquePointer?
            let created = withBytes(bundle.signedPreKey.signature) { bytes, count in
                session_pre_key_bundle_create(&cBundle, bundle.registrationID, bundle.deviceID, bundle.preKey?.id ?? 0, preKey,
                                              bundle.signedPreKey.id, signed, bytes, count, identity)
            }
            try SignalError.check(created, "session_pre_key_bundle_create")
            defer { unref(cBundle) }
            try address.withC { a throws(SignalError) in
                var builder: OpaquePointer?
                try SignalError.check(session_builder_create(&builder, storeContext, a, context), "session_builder_create")
                defer { session_builder_free(builder) }
                try SignalError.check(session_builder_process_pre_key_bundle(builder, cBundle), "session_builder_process_pre_key_bundle")
            }
        }
    }

    /// Encrypts `plaintext` for `address` (a prekey message until the peer answers, then whisper messages).
    public func encrypt(_ plaintext: Data, for address: SignalAddress) throws(SignalError) -> SignalCiphertext {
        try locked { () throws(SignalError) -> SignalCiphertext in
            try address.withC { a throws(SignalError) -> SignalCiphertext in
                var cipher: OpaquePointer?
                try SignalError.check(session_cipher_create(&cipher, storeContext, a, context), "session_cipher_create")
                defer { session_cipher_free(cipher) }
                var message: OpaquePointer?
                let encrypted = withBytes(plaintext) { bytes, count in session_cipher_encrypt(cipher, bytes, count, &message) }
                try SignalError.check(encrypted, "session_cipher_encrypt")
                defer { unref(message) }
                return try ciphertext(message)
            }
        }
    }

    /// Decrypts a prekey or whisper message from `address` (a prekey message builds the session first).
    public func decrypt(_ ciphertext: SignalCiphertext, from address: SignalAddress) throws(SignalError) -> Data {
        try locked { () throws(SignalError) -> Data in
            try address.withC { a throws(SignalError) -> Data in
                var cipher: OpaquePointer?
                try SignalError.check(session_cipher_create(&cipher, storeContext, a, context), "session_cipher_create")
                defer { session_cipher_free(cipher) }
                var plaintext: OpaquePointer?
                switch ciphertext.kind {
                case .preKey:
                    var message: OpaquePointer?
                    try deserialize(ciphertext.body, pre_key_signal_message_deserialize, into: &message)
                    defer { unref(message) }
                    try SignalError.check(session_cipher_decrypt_pre_key_signal_message(cipher, message, nil, &plaintext),
                                          "session_cipher_decrypt_pre_key_signal_message")
                case .whisper:
                    var message: OpaquePointer?
                    try deserialize(ciphertext.body, signal_message_deserialize, into: &message)
                    defer { unref(message) }
                    try SignalError.check(session_cipher_decrypt_signal_message(cipher, message, nil, &plaintext),
                                          "session_cipher_decrypt_signal_message")
                case .senderKey, .senderKeyDistribution:
                    throw SignalError(.invalidMessage, function: "decrypt(\(ciphertext.kind))")
                }
                return take(plaintext)
            }
        }
    }

    /// Forgets the session with `address` (the next send needs a bundle).
    public func deleteSession(with address: SignalAddress) throws(SignalError) {
        try locked { () throws(SignalError) in
            try address.withC { a throws(SignalError) in
                try SignalError.check(signal_protocol_session_delete_session(storeContext, a), "session_delete_session")
            }
        }
    }

    // MARK: - Sender keys

    /// This device's sender key distribution message for `name` (whose
    /// sender is this device), creating the sender key when there is none.
    public func senderKeyDistribution(for name: SenderKeyName) throws(SignalError) -> Data {
        try locked { () throws(SignalError) -> Data in
            try name.withC { n throws(SignalError) -> Data in
                var builder: OpaquePointer?
                try SignalError.check(group_session_builder_create(&builder, storeContext, context), "group_session_builder_create")
                defer { group_session_builder_free(builder) }
                var message: OpaquePointer?
                try SignalError.check(group_session_builder_create_session(builder, &message, n), "group_session_builder_create_session")
                defer { unref(message) }
                return try ciphertext(message).body
            }
        }
    }

    /// Takes in a peer's sender key distribution message for `name`.
    public func processSenderKeyDistribution(_ message: Data, for name: SenderKeyName) throws(SignalError) {
        try locked { () throws(SignalError) in
            var distribution: OpaquePointer?
            try deserialize(message, sender_key_distribution_message_deserialize, into: &distribution)
            defer { unref(distribution) }
            try name.withC { n throws(SignalError) in
                var builder: OpaquePointer?
                try SignalError.check(group_session_builder_create(&builder, storeContext, context), "group_session_builder_create")
                defer { group_session_builder_free(builder) }
                try SignalError.check(group_session_builder_process_session(builder, n, distribution), "group_session_builder_process_session")
            }
        }
    }

    /// Encrypts `plaintext` under this device's sender key `name`.
    public func groupEncrypt(_ plaintext: Data, for name: SenderKeyName) throws(SignalError) -> Data {
        try locked { () throws(SignalError) -> Data in
            try name.withC { n throws(SignalError) -> Data in
                var cipher: OpaquePointer?
                try SignalError.check(group_cipher_create(&cipher, storeContext, n, context), "group_cipher_create")
                defer { group_cipher_free(cipher) }
                var message: OpaquePointer?
                let encrypted = withBytes(plaintext) { bytes, count in group_cipher_encrypt(cipher, bytes, count, &message) }
                try SignalError.check(encrypted, "group_cipher_encrypt")
                defer { unref(message) }
                return try ciphertext(message).body
            }
        }
    }

    /// Decrypts a sender key message of `name`'s sender.
    public func groupDecrypt(_ body: Data, from name: SenderKeyName) throws(SignalError) -> Data {
        try locked { () throws(SignalError) -> Data in
            var message: OpaquePointer?
            try deserialize(body, sender_key_message_deserialize, into: &message)
            defer { unref(message) }
            return try name.withC { n throws(SignalError) -> Data in
                var cipher: OpaquePointer?
                try SignalError.check(group_cipher_create(&cipher, storeContext, n, context), "group_cipher_create")
                defer { group_cipher_free(cipher) }
                var plaintext: OpaquePointer?
                try SignalError.check(group_cipher_decrypt(cipher, message, nil, &plaintext), "group_cipher_decrypt")
                return take(plaintext)
            }
        }
    }

    // MARK: - Safety numbers

    /// The 60-digit safety number of two users' identity keys (Signal's
    /// fingerprint, version 1, 5200 iterations); both sides compute the
    /// same number when they hold the same keys.
    public func safetyNumber(local: String, localKeys: [SignalPublicKey], remote: String, remoteKeys: [SignalPublicKey]) throws(SignalError) -> String {
        guard !localKeys.isEmpty, !remoteKeys.isEmpty else { throw SignalError(.invalidArgument, function: "safetyNumber") }
        return try locked { () throws(SignalError) -> String in
            let localList = try keyList(localKeys)
            defer { ec_public_key_list_free(localList) }
            let remoteList = try keyList(remoteKeys)
            defer { ec_public_key_list_free(remoteList) }
            var generator: OpaquePointer?
            try SignalError.check(fingerprint_generator_create(&generator, 5200, 1, context), "fingerprint_generator_create")
            defer { fingerprint_generator_free(generator) }
            var fingerprint: OpaquePointer?
            try SignalError.check(fingerprint_generator_create_for_list(generator, local, localList, remote, remoteList, &fingerprint),
                                  "fingerprint_generator_create_for_list")
            defer { unref(fingerprint) }
            guard let text = displayable_fingerprint_text(fingerprint_get_displayable(fingerprint)) else {
                throw SignalError(.unknown, function: "displayable_fingerprint_text")
            }
            return String(cString: text)
        }
    }

    // MARK: - Helpers (under the lock)

    private func keyList(_ keys: [SignalPublicKey]) throws(SignalError) -> OpaquePointer {
        guard let list = ec_public_key_list_alloc() else { throw SignalError(.noMemory, function: "ec_public_key_list_alloc") }
        for key in keys {
            do throws(SignalError) {
                let point = try decodePoint(key)
                defer { unref(point) }
                try SignalError.check(ec_public_key_list_push_back(list, point), "ec_public_key_list_push_back")  // takes a reference
            } catch {
                ec_public_key_list_free(list)
                throw error
            }
        }
        return list
    }

    private func decodePoint(_ key: SignalPublicKey) throws(SignalError) -> OpaquePointer {
        var point: OpaquePointer?
        let decoded = withBytes(key.serialized) { bytes, count in curve_decode_point(&point, bytes, count, context) }
        try SignalError.check(decoded, "curve_decode_point")
        guard let point else { throw SignalError(.invalidKey, function: "curve_decode_point") }
        return point
    }

    private func deserialize(_ bytes: Data, _ function: (UnsafeMutablePointer<OpaquePointer?>?, UnsafePointer<UInt8>?, Int, OpaquePointer?) -> Int32,
                             into result: inout OpaquePointer?) throws(SignalError) {
        guard !bytes.isEmpty else { throw SignalError(.invalidProtobuf, function: "deserialize") }
        let code = withBytes(bytes) { pointer, count in function(&result, pointer, count, context) }
        try SignalError.check(code, "deserialize")
        if result == nil { throw SignalError(.invalidProtobuf, function: "deserialize") }
    }

    /// The type and bytes of a `ciphertext_message` (the message keeps its buffer).
    private func ciphertext(_ message: OpaquePointer?) throws(SignalError) -> SignalCiphertext {
        guard let message, let buffer = ciphertext_message_get_serialized(message),
              let kind = UInt8(exactly: ciphertext_message_get_type(message)).flatMap(SignalCiphertext.Kind.init(rawValue:))
        else { throw SignalError(.unknown, function: "ciphertext_message_get_serialized") }
        return SignalCiphertext(kind: kind, body: data(signal_buffer_const_data(buffer), signal_buffer_len(buffer)))
    }
}

/// Runs `body` with `data`'s bytes (nil when empty) and count.
func withBytes<T>(_ data: Data, _ body: (UnsafePointer<UInt8>?, Int) -> T) -> T {
    data.withUnsafeBytes { raw in body(raw.bindMemory(to: UInt8.self).baseAddress, raw.count) }
}

/// Drops one reference of a libsignal-protocol-c object.
func unref(_ object: OpaquePointer?) {
    if let object { signal_type_unref(object) }
}

/// Copies a plaintext `signal_buffer` out and frees it (zeroed).
func take(_ buffer: OpaquePointer?) -> Data {
    guard let buffer else { return Data() }
    defer { signal_buffer_bzero_free(buffer) }
    return data(signal_buffer_const_data(buffer), signal_buffer_len(buffer))
}

/// Serialises a key or record with a library `*_serialize` function.
func serialize(_ object: OpaquePointer?, _ function: (UnsafeMutablePointer<OpaquePointer?>?, OpaquePointer?) -> Int32) throws(SignalError) -> Data {
    var buffer: OpaquePointer?
    try SignalError.check(function(&buffer, object), "serialize")
    guard let buffer else { throw SignalError(.noMemory, function: "serialize") }
    defer { signal_buffer_bzero_free(buffer) }
    return data(signal_buffer_const_data(buffer), signal_buffer_len(buffer))
}

extension SignalAddress {
    /// Runs `body` with a C address whose name stays valid for the call (ciphers keep the pointer, so they must not outlive it).
    func withC<T>(_ body: (UnsafePointer<signal_protocol_address>) throws(SignalError) -> T) throws(SignalError) -> T {
        var utf8 = Array(name.utf8CString)
        let length = utf8.count - 1
        return try utf8.withUnsafeMutableBufferPointer { (chars: inout UnsafeMutableBufferPointer<CChar>) throws(SignalError) -> T in
            var address = signal_protocol_address(name: UnsafePointer(chars.baseAddress), name_len: length, device_id: deviceID)
            return try withUnsafePointer(to: &address) { (p: UnsafePointer<signal_protocol_address>) throws(SignalError) -> T in try body(p) }
        }
    }
}

extension SenderKeyName {
    /// Runs `body` with a C sender key name valid for the call.
    func withC<T>(_ body: (UnsafePointer<signal_protocol_sender_key_name>) throws(SignalError) -> T) throws(SignalError) -> T {
        var group = Array(groupID.utf8CString)
        let groupLength = group.count - 1
        return try group.withUnsafeMutableBufferPointer { (g: inout UnsafeMutableBufferPointer<CChar>) throws(SignalError) -> T in
            try sender.withC { (a: UnsafePointer<signal_protocol_address>) throws(SignalError) -> T in
                var name = signal_protocol_sender_key_name(group_id: UnsafePointer(g.baseAddress), group_id_len: groupLength, sender: a.pointee)
                return try withUnsafePointer(to: &name) { (p: UnsafePointer<signal_protocol_sender_key_name>) throws(SignalError) -> T in try body(p) }
            }
        }
    }
}
