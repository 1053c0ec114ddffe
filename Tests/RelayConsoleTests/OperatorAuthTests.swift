import Foundation
@testable import RelayConsole
@testable import RelayOps
import Testing

@Suite struct OperatorAuthTests {
    let token = String(repeating: "ab", count: 32)

    @Test func theTokenAsBearerOrCookieIsAllowed() {
        let auth = OperatorAuth(token: token)
        #expect(auth.decide(authorization: "Bearer \(token)", cookie: nil, queryToken: nil) == .allow)
        #expect(auth.decide(authorization: "bearer  \(token)", cookie: nil, queryToken: nil) == .allow)
        #expect(auth.decide(authorization: nil, cookie: token, queryToken: nil) == .allow)
    }

    @Test func theTokenInTheQueryLogsIn() {
        let auth = OperatorAuth(token: token)
        #expect(auth.decide(authorization: nil, cookie: nil, queryToken: token) == .login)
        // A good header wins over a login.
        #expect(auth.decide(authorization: "Bearer \(token)", cookie: nil, queryToken: token) == .allow)
    }

    @Test func anythingElseIsDenied() {
        let auth = OperatorAuth(token: token)
        #expect(auth.decide(authorization: nil, cookie: nil, queryToken: nil) == .deny)
        #expect(auth.decide(authorization: "Basic \(token)", cookie: nil, queryToken: nil) == .deny)
        #expect(auth.decide(authorization: "Bearer \(token.dropLast())", cookie: nil, queryToken: nil) == .deny)
        #expect(auth.decide(authorization: "Bearer \(token)0", cookie: "", queryToken: "x") == .deny)
        #expect(auth.decide(authorization: "Bearer", cookie: String(repeating: "cd", count: 32), queryToken: nil) == .deny)
        // An empty expected token admits no one.
        #expect(OperatorAuth(token: "").decide(authorization: "Bearer ", cookie: "", queryToken: "") == .deny)
    }

    @Test func theTokenFileIsCreatedOnceWithMode0600AndReadBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let created = try ConsoleTokenFile.create(inDirectory: directory)
        #expect(created)
        let again = try ConsoleTokenFile.create(inDirectory: directory)
        #expect(!again)
        let token = try ConsoleTokenFile.load(fromDirectory: directory)
        #expect(ConsoleTokenFile.isWellFormed(token))
        let attributes = try FileManager.default.attributesOfItem(atPath: ConsoleTokenFile.path(inDirectory: directory))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func aMalformedTokenFileIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-token-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "not hex\n".write(toFile: ConsoleTokenFile.path(inDirectory: directory), atomically: true, encoding: .utf8)
        #expect(throws: ConsoleTokenFile.Failure.self) { try ConsoleTokenFile.load(fromDirectory: directory) }
        #expect(!ConsoleTokenFile.isWellFormed(String(repeating: "g", count: 64)))
    }
}
