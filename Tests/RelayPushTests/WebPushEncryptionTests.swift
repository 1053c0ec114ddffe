import Crypto
import Foundation
import Testing

@testable import RelayPush

/// RFC 8291 Appendix A, "Intermediate Values for Encryption".
enum RFC8291 {
    static let plaintext = Array("When I grow up, I want to be a watermelon".utf8)
    static let asPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
    static let asPublic = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    static let uaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
    static let uaPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    static let salt = "DGv6ra1nlYgDCS1FRnbzlw"
    static let authSecret = "BTBZMqHH6r4Tts7J_aSIgg"
    static let body = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
}

func b64(_ text: String) throws -> [UInt8] {
    try #require(Base64URL.decode(text))
}

@Suite struct WebPushEncryptionTests {
    @Test func reproducesRFC8291AppendixA() throws {
        let ephemeral = try P256.KeyAgreement.PrivateKey(rawRepresentation: b64(RFC8291.asPrivate))
        #expect(Base64URL.encode(ephemeral.publicKey.x963Representation) == RFC8291.asPublic)
        let keys = try WebPushKeys(publicKey: b64(RFC8291.uaPublic), authSecret: b64(RFC8291.authSecret))
        let body = try WebPushEncryption.encrypt(RFC8291.plaintext, to: keys, ephemeral: ephemeral, salt: b64(RFC8291.salt))
        #expect(Base64URL.encode(body) == RFC8291.body)
    }

    @Test func decryptsRFC8291AppendixAAsTheUserAgent() throws {
        let receiver = try P256.KeyAgreement.PrivateKey(rawRepresentation: b64(RFC8291.uaPrivate))
        let plaintext = try WebPushEncryption.decrypt(b64(RFC8291.body), with: receiver, authSecret: b64(RFC8291.authSecret))
        #expect(plaintext == RFC8291.plaintext)
    }

    @Test func roundTripsWithFreshKeysAndRefusesTampering() throws {
        let receiver = P256.KeyAgreement.PrivateKey()
        let auth = [UInt8](repeating: 7, count: 16)
        let keys = try WebPushKeys(publicKey: Array(receiver.publicKey.x963Representation), authSecret: auth)
        let hint = PushHint(id: "00ff", urgency: .high)
        let first = try WebPushEncryption.encrypt(hint.json, to: keys)
        let second = try WebPushEncryption.encrypt(hint.json, to: keys)
        #expect(first != second)  // a fresh salt and key each time
        #expect(try WebPushEncryption.decrypt(first, with: receiver, authSecret: auth) == hint.json)
        var tampered = first
        tampered[tampered.count - 1] ^= 1
        #expect(throws: PushError.self) { try WebPushEncryption.decrypt(tampered, with: receiver, authSecret: auth) }
    }

    @Test func refusesKeysOfTheWrongShape() throws {
        #expect(throws: PushError.self) { try WebPushKeys(publicKey: [4] + [UInt8](repeating: 1, count: 64), authSecret: [UInt8](repeating: 0, count: 16)) }
        #expect(throws: PushError.self) { try WebPushKeys(publicKey: b64(RFC8291.uaPublic), authSecret: [1, 2, 3]) }
        let keys = try WebPushKeys(publicKey: b64(RFC8291.uaPublic), authSecret: b64(RFC8291.authSecret))
        #expect(throws: PushError.self) { try WebPushEncryption.encrypt([UInt8](repeating: 0, count: 5000), to: keys) }
    }

    @Test func hintCarriesNothingButAWakeUp() throws {
        let text = String(decoding: PushHint(id: "abc123", urgency: .normal).json, as: UTF8.self)
        #expect(text == #"{"type":"wake","id":"abc123","urgency":"normal"}"#)
        // An id is never more than hex, whatever it was given.
        #expect(String(decoding: PushHint(id: "a\"}x", urgency: .high).json, as: UTF8.self).contains(#""id":"a""#))
    }
}

@Suite struct VAPIDTests {
    /// RFC 8292 §2.4.
    static let exampleToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA"
    static let exampleKey = "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs"

    @Test func verifiesRFC8292Example() throws {
        let claims = try VAPIDKey.verify(authorization: "vapid t=\(Self.exampleToken), k=\(Self.exampleKey)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(claims)) as? [String: Any])
        #expect(json["aud"] as? String == "https://push.example.net")
        #expect(json["exp"] as? Int == 1453523768)
        #expect(json["sub"] as? String == "mailto:push@example.com")
    }

    @Test func refusesAnAlteredRFC8292Example() throws {
        let parts = Self.exampleToken.split(separator: ".")
        let forged = Base64URL.encode(Array(#"{"aud":"https://push.example.org","exp":1453523768,"sub":"mailto:push@example.com"}"#.utf8))
        #expect(throws: PushError.self) {
            try VAPIDKey.verify(authorization: "vapid t=\(parts[0]).\(forged).\(parts[2]), k=\(Self.exampleKey)")
        }
    }

    @Test func signsWhatTheRFC8292ExampleSays() throws {
        let key = VAPIDKey(P256.Signing.PrivateKey())
        let header = try key.authorization(endpoint: "https://push.example.net/p/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
                                           subject: "mailto:push@example.com", expires: Date(timeIntervalSince1970: 1453523768))
        #expect(header.hasPrefix("vapid t=eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9."))
        #expect(header.hasSuffix(", k=\(key.publicKeyBase64URL)"))
        let claims = try VAPIDKey.verify(authorization: header)
        // The same claims as the RFC's example, byte for byte.
        #expect(Base64URL.encode(claims) == String(Self.exampleToken.split(separator: ".")[1]))
    }

    @Test func readsAPEMKeyAndNamesTheOrigin() throws {
        let key = P256.Signing.PrivateKey()
        #expect(try VAPIDKey(pem: key.pemRepresentation).publicKeyBase64URL == Base64URL.encode(key.publicKey.x963Representation))
        #expect(throws: PushError.self) { try VAPIDKey(pem: "not a key") }
        #expect(VAPIDKey.audience(of: "https://fcm.googleapis.com:443/fcm/send/abc") == "https://fcm.googleapis.com:443")
        #expect(VAPIDKey.audience(of: "ftp://x/y") == nil)
    }
}
