import ArgumentParser
import Foundation
import RelayCore

extension RelayClientCommand {
    /// `push register --webpush URL --p256dh B64 --auth B64 | --apns TOKEN --topic ID [--sandbox] | --fcm TOKEN`,
    /// `push unregister` (docs/push.md).
    struct PushCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Register or remove this device's push target (woken by a push while offline).",
            subcommands: [Register.self, Unregister.self])

        @ParentCommand var root: RelayClientCommand

        struct Register: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Register one push target for this device, replacing any earlier one.",
                discussion: """
                    Web Push and UnifiedPush: --webpush ENDPOINT --p256dh KEY --auth SECRET (keys base64url, as \
                    PushSubscription.toJSON() gives them). APNs: --apns TOKEN --topic BUNDLE-ID [--sandbox]. \
                    FCM: --fcm TOKEN.
                    """)
            @ParentCommand var push: PushCommand
            @Option(name: .customLong("webpush"), help: "A Web Push or UnifiedPush endpoint URL.") var webPush: String?
            @Option(help: "The subscription's P-256 public key, base64url (65 bytes).") var p256dh: String?
            @Option(help: "The subscription's authentication secret, base64url (16 bytes).") var auth: String?
            @Option(help: "An APNs device token (hex).") var apns: String?
            @Option(help: "The app's bundle id (APNs topic).") var topic: String?
            @Flag(help: "APNs sandbox (development builds).") var sandbox = false
            @Option(help: "An FCM registration token.") var fcm: String?

            func run() async throws {
                var request = Relay_V1_Request()
                switch (webPush, apns, fcm) {
                case (let endpoint?, nil, nil):
                    guard let p256dh, let key = Self.base64URL(p256dh), let auth, let secret = Self.base64URL(auth) else {
                        throw ValidationError("--webpush needs --p256dh and --auth, base64url")
                    }
                    request.pushRegister.webPush.endpoint = endpoint
                    request.pushRegister.webPush.p256Dh = key
                    request.pushRegister.webPush.auth = secret
                case (nil, let token?, nil):
                    guard let topic else { throw ValidationError("--apns needs --topic (the app's bundle id)") }
                    request.pushRegister.apns.token = token
                    request.pushRegister.apns.topic = topic
                    request.pushRegister.apns.sandbox = sandbox
                case (nil, nil, let token?):
                    request.pushRegister.fcm.token = token
                default:
                    throw ValidationError("give exactly one of --webpush, --apns or --fcm")
                }
                try await push.root.ask(RequestMethod.pushRegister.rawValue, request)
            }

            static func base64URL(_ text: String) -> Data? {
                var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
                while s.count % 4 != 0 { s += "=" }
                return Data(base64Encoded: s)
            }
        }

        struct Unregister: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove this device's push target.")
            @ParentCommand var push: PushCommand

            func run() async throws {
                var request = Relay_V1_Request()
                request.pushUnregister = Relay_V1_PushUnregister()
                try await push.root.ask(RequestMethod.pushUnregister.rawValue, request)
            }
        }
    }
}
