import Foundation
@testable import RelayChat
import RelayCore
import Signal
import Testing

/// `KeyDirectory.validate`: uploads in Signal's formats, XEdDSA-signed
/// prekeys checked with libsignal-protocol-c before anything is stored.
@Suite("Key directory upload validation")
struct KeyDirectoryValidationTests {
    static func upload(prekeys: Int = 3) throws -> Relay_V1_KeysUpload {
        let signal = try SignalProtocol(store: SignalRecordStore(storage: MemoryRecordStorage()))
        let identity = try signal.createIdentity()
        let signed = try signal.generateSignedPreKey(id: 5, timestampMs: 0)
        let oneTime = try signal.generatePreKeys(start: 1, count: prekeys + 1)
        var upload = Relay_V1_KeysUpload()
        upload.identityKey = identity.publicKey.serialized
        upload.registrationID = identity.registrationID
        upload.deviceID = 42
        upload.signedPrekey.id = signed.id
        upload.signedPrekey.publicKey = signed.publicKey.serialized
        upload.signedPrekey.signature = signed.signature
        upload.oneTimePrekeys = oneTime.dropLast().map { key in
            var prekey = Relay_V1_OneTimePrekey()
            prekey.id = key.id
            prekey.publicKey = key.publicKey.serialized
            return prekey
        }
        upload.lastResortPrekey.id = 0xFF_FFFF
        upload.lastResortPrekey.publicKey = oneTime[prekeys].publicKey.serialized
        return upload
    }

    static func code(_ upload: Relay_V1_KeysUpload) -> String? {
        do {
            try KeyDirectory.validate(upload, maximumOneTimePrekeys: 10)
            return nil
        } catch {
            return error.code.rawValue
        }
    }

    @Test("a Signal client's upload is accepted")
    func valid() throws {
        #expect(Self.code(try Self.upload()) == nil)
    }

    @Test("a signature by another key, or over another key, is bad_signature")
    func forged() throws {
        var upload = try Self.upload()
        let other = try Self.upload()
        upload.signedPrekey.signature = other.signedPrekey.signature
        #expect(Self.code(upload) == "bad_signature")
        upload = try Self.upload()
        upload.signedPrekey.publicKey = other.signedPrekey.publicKey
        #expect(Self.code(upload) == "bad_signature")
        upload = try Self.upload()
        upload.signedPrekey.signature[10] ^= 1
        #expect(Self.code(upload) == "bad_signature")
    }

    @Test("keys not in Signal's form, ids out of range, too many prekeys are bad_request")
    func malformed() throws {
        let edits: [(inout Relay_V1_KeysUpload) -> Void] = [
            { $0.identityKey = $0.identityKey.dropFirst() },                // a raw 32-byte key
            { $0.identityKey[0] = 0x06 },                                   // not type 0x05
            { $0.signedPrekey.publicKey = Data($0.signedPrekey.publicKey.prefix(20)) },
            { $0.signedPrekey.signature = Data($0.signedPrekey.signature.prefix(63)) },
            { $0.signedPrekey.id = 0 },
            { $0.signedPrekey.id = 0x100_0000 },
            { $0.clearSignedPrekey() },
            { $0.oneTimePrekeys[1].publicKey = Data(repeating: 1, count: 33) },
            { $0.oneTimePrekeys[0].id = 0 },
            { $0.lastResortPrekey.publicKey = Data() },
            { $0.registrationID = 0 },
            { $0.deviceID = 0 },
            { $0.deviceID = UInt32(Int32.max) + 1 },
            { $0.oneTimePrekeys += $0.oneTimePrekeys + $0.oneTimePrekeys + $0.oneTimePrekeys },  // 12 > 10
        ]
        for (index, edit) in edits.enumerated() {
            var upload = try Self.upload()
            edit(&upload)
            #expect(Self.code(upload) == "bad_request", "edit \(index)")
        }
    }
}
