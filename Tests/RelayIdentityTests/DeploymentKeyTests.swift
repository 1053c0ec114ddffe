import Foundation
import RelayIdentity
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under the system's temporary directory, removed afterwards.
func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    let base = FileManager.default.temporaryDirectory.path + "/relay-ident-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: base) }
    try await body(base)
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

@Suite struct DeploymentKeyTests {
    @Test func writtenKeysHaveTheirModesAndReload() async throws {
        try await withTemporaryDirectory { base in
            let directory = base + "/keys"
            let key = try DeploymentKey.generate()
            try key.write(toDirectory: directory)

            #expect(fileMode(directory + "/deployment.key") == 0o600)
            #expect(fileMode(directory + "/deployment.pub") == 0o644)
            #expect(fileMode(directory) == 0o700)
            #expect(DeploymentKey.exists(inDirectory: directory))

            #expect(try DeploymentKey.load(fromDirectory: directory) == key)
            #expect(try DeploymentPublicKey.load(fromDirectory: directory) == key.publicKey)
            // Nothing but the two files is left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["deployment.key", "deployment.pub"])
        }
    }

    @Test func filesArePEMOfTheStandardForms() async throws {
        try await withTemporaryDirectory { directory in
            let key = try DeploymentKey.generate()
            try key.write(toDirectory: directory)
            let privatePEM = try String(contentsOfFile: directory + "/deployment.key", encoding: .utf8)
            let publicPEM = try String(contentsOfFile: directory + "/deployment.pub", encoding: .utf8)
            #expect(privatePEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            #expect(publicPEM.hasPrefix("-----BEGIN PUBLIC KEY-----"))
            #expect(try DeploymentKey(pem: privatePEM) == key)
            #expect(try DeploymentPublicKey(pem: publicPEM) == key.publicKey)
        }
    }

    @Test func loadsAKeyMadeByOpenSSL() throws {
        // `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
        let privatePEM = """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEILVH5ShflCK/Xl2ThsmHU8qLmHeg5QH4XhE8Lz2ObECz
            -----END PRIVATE KEY-----
            """
        let publicPEM = """
            -----BEGIN PUBLIC KEY-----
            MCowBQYDK2VwAyEACZSLG9ikPBYOD4yWTup16HGjLrZmSpJzl/szmX6kv4I=
            -----END PUBLIC KEY-----
            """
        let key = try DeploymentKey(pem: privatePEM)
        #expect(key.publicKey == (try DeploymentPublicKey(pem: publicPEM)))
    }

    @Test func anExistingPrivateKeyIsNeverOverwritten() async throws {
        try await withTemporaryDirectory { directory in
            let first = try DeploymentKey.generate()
            try first.write(toDirectory: directory)
            let second = try DeploymentKey.generate()
            #expect(throws: DeploymentKeyError.self) { try second.write(toDirectory: directory) }
            do {
                try second.write(toDirectory: directory)
            } catch let error as DeploymentKeyError {
                #expect(error.kind == .alreadyExists)
            }
            #expect(try DeploymentKey.load(fromDirectory: directory) == first)
            #expect(try DeploymentPublicKey.load(fromDirectory: directory) == first.publicKey)
        }
    }

    @Test func missingAndMalformedKeysSaySo() async throws {
        try await withTemporaryDirectory { directory in
            do {
                _ = try DeploymentPublicKey.load(fromDirectory: directory)
                Issue.record("loaded a key from an empty directory")
            } catch let error as DeploymentKeyError {
                #expect(error.kind == .missing)
                #expect(error.path == directory + "/deployment.pub")
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "not a key".write(toFile: directory + "/deployment.key", atomically: true, encoding: .utf8)
            do {
                _ = try DeploymentKey.load(fromDirectory: directory)
                Issue.record("loaded a key from garbage")
            } catch let error as DeploymentKeyError {
                #expect(error.kind == .malformed)
            }
        }
    }
}
