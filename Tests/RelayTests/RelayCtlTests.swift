import ArgumentParser
import Foundation
import RelayCtlCommands
import RelayIdentity
import Testing

@Suite struct TokenLifetimeTests {
    @Test(arguments: [("3600s", 3600), ("3600", 3600), ("90m", 5400), ("12h", 43_200), ("30d", 2_592_000)] as [(String, Int64)])
    func parses(text: String, seconds: Int64) {
        #expect(TokenLifetime(argument: text)?.seconds == seconds)
    }

    @Test(arguments: ["", "d", "0s", "-5s", "+5s", "12x", "1.5h", "1 h", "99999999999999999999d", "4000d"])
    func refuses(text: String) {
        #expect(TokenLifetime(argument: text) == nil)
    }

    @Test func describesInTheLargestUnit() {
        #expect(TokenLifetime(seconds: 2_592_000).description == "30d")
        #expect(TokenLifetime(seconds: 5400).description == "90m")
        #expect(TokenLifetime(seconds: 61).description == "61s")
    }
}

@Suite struct RelayCtlTests {
    private func run(_ arguments: [String]) async throws {
        var command = try RelayCtlCommand.parseAsRoot(arguments)
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    }

    @Test func keysInitIsIdempotent() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/relayctl-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await run(["keys", "init", "--dir", directory])
        let first = try DeploymentKey.load(fromDirectory: directory)
        try await run(["keys", "init", "--dir", directory])
        #expect(try DeploymentKey.load(fromDirectory: directory) == first)
    }

    @Test func tokenIssueWithoutAKeySaysWhatToDo() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/relayctl-\(UUID().uuidString)"
        do {
            try await run(["token", "issue", "--user", "alice", "--device", "phone", "--key-dir", directory])
            Issue.record("issued a token without a key")
        } catch {
            #expect("\(error)".contains("run relayctl keys init"))
        }
    }
}
