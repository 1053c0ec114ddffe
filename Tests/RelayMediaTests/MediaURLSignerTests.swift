import RelayCore
import Testing
@testable import RelayMedia

@Suite struct MediaURLSignerTests {
    let signer = MediaURLSigner(secret: Array(repeating: 7, count: 32))
    let id = MediaID(rawValue: "0123456789abcdef0123456789abcdef")!

    func query(_ path: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in path.split(separator: "?")[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            out[kv[0]] = (kv.count > 1 ? kv[1] : "").removingPercentEncoding
        }
        return out
    }

    func upload(expiresAt: Int64 = 2000) -> MediaGrantClaims {
        MediaGrantClaims(use: .upload, id: id, region: "us-east", user: "alice", length: 1234, expiresAt: expiresAt)
    }

    @Test func aSignedURLVerifiesToItsClaims() throws {
        let path = signer.signedPath(upload())
        #expect(path.hasPrefix("/media/v1/upload/\(id.rawValue)?"))
        let claims = try signer.verify(use: .upload, id: id.rawValue, query: query(path), now: 1000)
        #expect(claims == upload())
    }

    @Test func everyChangedFieldIsRefusedAsTampered() {
        let q = query(signer.signedPath(upload()))
        for (key, value) in [("r", "eu-west"), ("u", "mallory"), ("n", "99999"), ("e", "9999999")] {
            var changed = q
            changed[key] = value
            #expect(throws: MediaRefusal.self) { try signer.verify(use: .upload, id: id.rawValue, query: changed, now: 1000) }
            do {
                _ = try signer.verify(use: .upload, id: id.rawValue, query: changed, now: 1000)
            } catch {
                #expect(error.status == 403)
                #expect(error.message.contains("signature"))
            }
        }
    }

    @Test func anotherBlobOrUseOrKeyIsRefused() {
        let q = query(signer.signedPath(upload()))
        #expect((try? signer.verify(use: .download, id: id.rawValue, query: q, now: 1000)) == nil)
        #expect((try? signer.verify(use: .upload, id: "ffffffffffffffffffffffffffffffff", query: q, now: 1000)) == nil)
        let other = MediaURLSigner(secret: Array(repeating: 8, count: 32))
        #expect((try? other.verify(use: .upload, id: id.rawValue, query: q, now: 1000)) == nil)
    }

    @Test func anExpiredURLIsRefused() {
        let q = query(signer.signedPath(upload(expiresAt: 1000)))
        #expect((try? signer.verify(use: .upload, id: id.rawValue, query: q, now: 1000)) != nil)
        do {
            _ = try signer.verify(use: .upload, id: id.rawValue, query: q, now: 1001)
            Issue.record("an expired URL verified")
        } catch {
            #expect(error.status == 403)
            #expect(error.message.contains("expired"))
        }
    }

    @Test func malformedFieldsAndIdsAreRefused() {
        var q = query(signer.signedPath(upload()))
        q["s"] = "!!!"
        #expect((try? signer.verify(use: .upload, id: id.rawValue, query: q, now: 1000)) == nil)
        q = query(signer.signedPath(upload()))
        q.removeValue(forKey: "n")
        #expect((try? signer.verify(use: .upload, id: id.rawValue, query: q, now: 1000)) == nil)
        do {
            _ = try signer.verify(use: .upload, id: "../../etc/passwd", query: query(signer.signedPath(upload())), now: 1000)
        } catch {
            #expect(error.status == 404)
        }
    }
}
