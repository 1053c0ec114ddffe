import Foundation
import Logging
import NIOCore
import RelayCore
import RelayStore
import Signal
import SwiftProtobuf

/// The relay's side of end-to-end encryption (docs/protocol.md, `keys.upload`
/// and `keys.fetch`): a directory of each device's public keys, from which
/// other devices start sessions.
///
/// Keys are in Signal's formats (docs/e2ee.md). Per device, under its hash
/// tag: `{d:<device>}:keys` (a hash: identity key, signed prekey,
/// last-resort prekey, registration id, Signal device id), `{d:<device>}:otk` (a list of
/// one-time prekeys, each handed out once), `{d:<device>}:otk:low` (set
/// once the device was told its one-time prekeys run low; an upload clears
/// it) and, on a standby, `{d:<device>}:otk:used` (prekeys the home handed
/// out before their upload reached the standby). A device uploads only its
/// own keys: the keys it names are the session's device's. Uploads and
/// handed-out one-time prekeys are mirrored to the standby of the device's
/// home (`KeysMirror`, ``ChatRouter/uploadKeys(_:device:home:on:)``).
final class KeyDirectory: Sendable {
    /// Bytes of a public key in Signal's form (type byte 0x05 and the Curve25519 key).
    static let publicKeyBytes = SignalPublicKey.serializedCount
    /// Bytes of an XEdDSA signature.
    static let signatureBytes = XEdDSA.signatureCount
    /// Prekey ids are 24-bit in the Signal protocol (`Medium.MAX_VALUE`).
    static let maximumPrekeyID: UInt32 = 0xFF_FFFF
    /// Registration and device ids are positive 31-bit numbers.
    static let maximumSignalID: UInt32 = UInt32(Int32.max)

    private let store: ChatStore
    private let configuration: ChatConfiguration
    private let uploadScript: RedisScript
    private let fetchScript: RedisScript
    private let consumeScript: RedisScript
    private let logger: Logger

    init(store: ChatStore, logger: Logger) throws {
        self.store = store
        self.configuration = store.configuration
        self.uploadScript = try ScriptLibrary.load("keys_upload")
        self.fetchScript = try ScriptLibrary.load("keys_fetch")
        self.consumeScript = try ScriptLibrary.load("keys_consume")
        self.logger = logger
    }

    /// Consumed prekeys a standby remembers before their upload arrived, at most.
    static let maximumRememberedConsumed = 10_000

    private static func keys(_ device: String) -> [String] {
        let d = ChatStore.device(device)
        return ["\(d):keys", "\(d):otk", "\(d):otk:low"]
    }

    private static func used(_ device: String) -> String {
        "\(ChatStore.device(device)):otk:used"
    }

    // MARK: - Upload

    /// Checks an upload (docs/protocol.md, "Keys"): keys in Signal's form
    /// (33 bytes, type 0x05), ids in range ("bad_request"), and the signed
    /// prekey's XEdDSA signature by the identity key ("bad_signature"),
    /// verified with libsignal-protocol-c's `curve_verify_signature`.
    static func validate(_ upload: Relay_V1_KeysUpload, maximumOneTimePrekeys: Int) throws(ChatError) {
        guard let identity = try? SignalPublicKey(serialized: upload.identityKey) else {
            throw ChatError(.badRequest, "identity_key must be a \(publicKeyBytes)-byte Curve25519 public key (0x05 and 32 bytes)")
        }
        guard (1 ... maximumSignalID).contains(upload.registrationID), (1 ... maximumSignalID).contains(upload.deviceID) else {
            throw ChatError(.badRequest, "registration_id and device_id must be 1 ... \(maximumSignalID)")
        }
        guard upload.hasSignedPrekey else { throw ChatError(.badRequest, "signed_prekey is missing") }
        let signed = upload.signedPrekey
        guard (1 ... maximumPrekeyID).contains(signed.id), (try? SignalPublicKey(serialized: signed.publicKey)) != nil,
              signed.signature.count == signatureBytes
        else {
            throw ChatError(.badRequest, "signed_prekey needs an id 1 ... \(maximumPrekeyID), a \(publicKeyBytes)-byte key and a \(signatureBytes)-byte signature")
        }
        guard XEdDSA.isValidSignature(signed.signature, of: signed.publicKey, by: identity) else {
            throw ChatError(.badSignature, "signed_prekey is not signed by identity_key (XEdDSA)")
        }
        if upload.hasLastResortPrekey {
            try check(upload.lastResortPrekey, named: "last_resort_prekey")
        }
        guard upload.oneTimePrekeys.count <= maximumOneTimePrekeys else {
            throw ChatError(.badRequest, "at most \(maximumOneTimePrekeys) one-time prekeys per upload")
        }
        for prekey in upload.oneTimePrekeys {
            try check(prekey, named: "one-time prekey \(prekey.id)")
        }
    }

    private static func check(_ prekey: Relay_V1_OneTimePrekey, named name: String) throws(ChatError) {
        guard (1 ... maximumPrekeyID).contains(prekey.id), (try? SignalPublicKey(serialized: prekey.publicKey)) != nil else {
            throw ChatError(.badRequest, "\(name) needs an id 1 ... \(maximumPrekeyID) and a \(publicKeyBytes)-byte key (0x05 and 32 bytes)")
        }
    }

    /// Stores `device`'s keys after `validate(_:maximumOneTimePrekeys:)`.
    /// A new identity key drops the one-time and last-resort prekeys of the
    /// old one; one-time prekeys this region knows were handed out already
    /// (a standby, ``dropConsumed(_:device:on:)``) are left out. Used for a
    /// device's own upload and for the mirrored copy a standby receives.
    func store(_ upload: Relay_V1_KeysUpload, device: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        do {
            try Self.validate(upload, maximumOneTimePrekeys: configuration.maximumOneTimePrekeysPerUpload)
        } catch {
            return loop.makeFailedFuture(error)
        }
        var arguments: [RedisArgument] = [
            .bytes(ByteBuffer(bytes: upload.identityKey)),
            .bytes(ByteBuffer(bytes: ChatRouter.bytes(upload.signedPrekey))),
            .bytes(ByteBuffer(bytes: upload.hasLastResortPrekey ? ChatRouter.bytes(upload.lastResortPrekey) : [])),
            .integer(Int64(upload.registrationID)),
            .integer(Int64(upload.deviceID)),
            .integer(Int64(configuration.maximumOneTimePrekeysStored)),
        ]
        arguments.append(contentsOf: upload.oneTimePrekeys.map { .bytes(ByteBuffer(bytes: ChatRouter.bytes($0))) })
        return store.redis.send(uploadScript.command(keys: Self.keys(device) + [Self.used(device)], arguments: arguments), on: loop).map { _ in }
    }

    /// A standby drops one-time prekeys its home handed out (`KeysMirror.consumed`),
    /// each checked as an upload's are; one it does not hold yet is
    /// remembered and left out of the upload that brings it.
    func dropConsumed(_ consumed: [Data], device: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard !consumed.isEmpty else { return loop.makeSucceededVoidFuture() }
        do {
            for bytes in consumed {
                let prekey: Relay_V1_OneTimePrekey
                do {
                    prekey = try Relay_V1_OneTimePrekey(serializedBytes: bytes)
                } catch {
                    throw ChatError(.badRequest, "a consumed one-time prekey of \(device) does not decode")
                }
                try Self.check(prekey, named: "consumed one-time prekey")
            }
        } catch {
            return loop.makeFailedFuture(error)
        }
        var arguments: [RedisArgument] = [.integer(Int64(Self.maximumRememberedConsumed)), .integer(ChatRouter.nowMilliseconds())]
        arguments.append(contentsOf: consumed.map { .bytes(ByteBuffer(bytes: $0)) })
        return store.redis.send(consumeScript.command(keys: [Self.keys(device)[1], Self.used(device)], arguments: arguments), on: loop).map { _ in }
    }

    // MARK: - Fetch

    /// One device's bundle as `keys_fetch.lua` handed it out.
    struct Handed: Sendable {
        var bundle: Relay_V1_KeyBundle
        /// The one-time prekey handed out, as stored (empty: the last-resort one).
        var oneTime: [UInt8]
        var remaining: Int
        /// The device's one-time prekeys just went below the threshold.
        var crossed: Bool
    }

    /// A bundle for every device of `fetch.user` that has keys (but the
    /// requester's own device), each with one one-time prekey taken for good
    /// (or the last-resort prekey when none is left). A device whose
    /// one-time prekeys fall below the threshold gets `Event.prekeys_low`,
    /// once until its next upload. "not_found" when no device has keys.
    /// Also says which one-time prekeys went, per device, for the mirror.
    func fetch(_ fetch: Relay_V1_KeysFetch, requester: String, on loop: any EventLoop) -> EventLoopFuture<Fetched> {
        let user: String
        do {
            user = try UserID(validating: fetch.user).rawValue
        } catch {
            return loop.makeFailedFuture(ChatError(.badRequest, "\(error)"))
        }
        return store.devices(of: [user], on: loop).flatMap { devices -> EventLoopFuture<[(String, Result<RESPValue, RedisError>)]> in
            let targets = (devices[user] ?? []).filter { $0 != requester }
            let commands = targets.map { device in
                self.fetchScript.command(keys: Self.keys(device), arguments: [self.configuration.prekeysLowThreshold])
            }
            return self.store.redis.pipeline(commands, on: loop).map { Array(zip(targets, $0)) }
        }.flatMapThrowing { replies -> Fetched in
            var handed: [Handed] = []
            for (device, result) in replies {
                if let one = try Self.handed(device: device, reply: result.get()) { handed.append(one) }
            }
            for one in handed where one.crossed {
                self.prekeysLow(device: one.bundle.device, remaining: one.remaining, on: loop)
            }
            guard !handed.isEmpty else { throw ChatError(.notFound, "no device of \(user) has keys") }
            var bundles = Relay_V1_KeyBundles()
            bundles.user = user
            bundles.bundles = handed.map(\.bundle)
            var response = Relay_V1_Response()
            response.keyBundles = bundles
            var consumed: [String: [UInt8]] = [:]
            for one in handed where !one.oneTime.isEmpty { consumed[one.bundle.device] = one.oneTime }
            return Fetched(response: response, user: user, consumed: consumed)
        }
    }

    /// What a fetch answered, and the one-time prekeys it used up.
    struct Fetched: Sendable {
        var response: Relay_V1_Response
        /// The validated user whose bundles these are.
        var user: String
        /// Device → the one-time prekey handed out (as stored).
        var consumed: [String: [UInt8]]
    }

    /// Decodes one `keys_fetch.lua` reply; nil when the device has no keys.
    static func handed(device: String, reply: RESPValue) throws -> Handed? {
        if reply.isNull { return nil }
        guard let values = reply.array, values.count == 8,
              let identity = values[0].bytes, let signed = values[1].bytes,
              let oneTime = values[2].bytes, let lastResort = values[3].bytes,
              let remaining = values[4].int, let crossed = values[5].int,
              let registrationID = values[6].int.flatMap(UInt32.init(exactly:)),
              let deviceID = values[7].int.flatMap(UInt32.init(exactly:))
        else { throw ChatError.storeReply("keys_fetch.lua answered \(reply)") }
        var bundle = Relay_V1_KeyBundle()
        bundle.device = device
        bundle.registrationID = registrationID
        bundle.deviceID = deviceID
        bundle.identityKey = Data(identity)
        bundle.signedPrekey = try Relay_V1_SignedPrekey(serializedBytes: signed)
        if !oneTime.isEmpty { bundle.oneTimePrekey = try Relay_V1_OneTimePrekey(serializedBytes: oneTime) }
        if !lastResort.isEmpty { bundle.lastResortPrekey = try Relay_V1_OneTimePrekey(serializedBytes: lastResort) }
        return Handed(bundle: bundle, oneTime: oneTime, remaining: remaining, crossed: crossed == 1)
    }

    /// Puts `Event.prekeys_low` on the device's queue. If that fails the
    /// flag goes, so that the next fetch tries again.
    private func prekeysLow(device: String, remaining: Int, on loop: any EventLoop) {
        var low = Relay_V1_PrekeysLow()
        low.device = device
        low.remaining = UInt32(clamping: remaining)
        var event = Relay_V1_Event()
        event.prekeysLow = low
        store.enqueue([(device, [QueueEntry.event(ChatRouter.bytes(event)).bytes])], on: loop).whenFailure { error in
            self.logger.warning("prekeys-low event not queued", metadata: ["device": "\(device)", "error": "\(error)"])
            _ = self.store.redis.send(RedisCommand("DEL", Self.keys(device)[2]), on: loop)
        }
    }
}
