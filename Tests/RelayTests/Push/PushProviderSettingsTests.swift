import Crypto
import Foundation
@testable import RelayChat
import RelayPush
@testable import RelayServerCommands
@testable import RelayTopology
import Testing

/// APNs and FCM from region settings: key files read and checked, provider
/// URLs held to the address policy.
@Suite struct PushProviderSettingsTests {
    @Test func providerURLsMustBeHTTPSAndPublicUnlessAllowed() throws {
        let strict = ProviderEndpointGuard(allowPrivate: false)
        #expect(try strict.checkConfigured("https://api.push.apple.com", setting: "pushAPNsURL").host == "api.push.apple.com")
        #expect(throws: PushError.self) { try strict.checkConfigured("http://api.push.apple.com", setting: "pushAPNsURL") }
        #expect(throws: PushError.self) { try strict.checkConfigured("https://127.0.0.1:8443", setting: "pushAPNsURL") }
        #expect(throws: PushError.self) { try strict.checkConfigured("https://10.0.0.7", setting: "pushFCMURL") }
        #expect(throws: PushError.self) { try strict.checkConfigured("https://user:pw@fcm.example.net", setting: "pushFCMURL") }
        #expect(throws: PushError.self) { try strict.checkConfigured("not a url", setting: "pushFCMURL") }
        let local = ProviderEndpointGuard(allowPrivate: true)
        #expect(try local.checkConfigured("http://127.0.0.1:8443", setting: "pushAPNsURL").port == 8443)
    }

    @Test func configuresAPNsFromAKeyFileAndRefusesAnIncompleteOne() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("push-settings-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("AuthKey.p8").path
        try P256.Signing.PrivateKey().pemRepresentation.write(toFile: keyFile, atomically: true, encoding: .utf8)
        var settings = RegionSettings()
        settings.pushAPNsKeyFile = keyFile
        settings.pushAPNsKeyID = "KEY1234567"
        settings.pushAPNsTeamID = "TEAM123456"
        var push = PushSettings()
        try ServeCommand.configureProviders(&push, settings: settings)
        #expect(push.apns?.productionURL.absoluteString == "https://api.push.apple.com")
        #expect(push.apns?.sandboxURL.absoluteString == "https://api.sandbox.push.apple.com")
        #expect(push.fcm == nil)
        settings.pushAPNsTeamID = nil
        let incomplete = Self.refused(settings)
        #expect(incomplete)
        settings.pushAPNsTeamID = "TEAM123456"
        settings.pushAPNsURL = "https://192.168.1.10"
        let privateURL = Self.refused(settings)
        #expect(privateURL)
        settings.pushAPNsKeyFile = directory.appendingPathComponent("missing.p8").path
        settings.pushAPNsURL = nil
        let missing = Self.refused(settings)
        #expect(missing)
        settings.pushAPNsKeyFile = nil
        settings.pushFCMServiceAccountFile = keyFile  // a PEM, not a service account's JSON
        let notJSON = Self.refused(settings)
        #expect(notJSON)
    }

    /// Whether the relay would refuse to start with `settings`.
    static func refused(_ settings: RegionSettings) -> Bool {
        var push = PushSettings()
        do {
            try ServeCommand.configureProviders(&push, settings: settings)
            return false
        } catch {
            return true
        }
    }
}
