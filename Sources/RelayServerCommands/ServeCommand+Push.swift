import ArgumentParser
import Foundation
import Logging
import NIOCore
import RelayChat
import RelayOps
import RelayPush
import RelayTopology

extension ServeCommand {
    /// The push side of `relay serve`: the notifier attached to the store,
    /// its poll task, and what the HTTP endpoint publishes.
    struct Pushes {
        let notifier: PushNotifier
        let task: RepeatedTask
        let httpAnswers: [String: OpsResponse]
    }

    func startPushes(settings: RegionSettings, store: ChatStore, replicator: Replicator?, group: any EventLoopGroup, logger: Logger) throws -> Pushes {
        var push = PushSettings()
        if let seconds = settings.pushWindowSeconds {
            guard (0...86_400).contains(seconds) else { throw ValidationError("pushWindowSeconds must be 0…86400") }
            push.windowMilliseconds = Int64(seconds) * 1000
        }
        if let allow = settings.pushAllowPrivateEndpoints { push.allowPrivateEndpoints = allow }
        if let subject = settings.pushSubject {
            guard subject.hasPrefix("mailto:") || subject.hasPrefix("https://") else { throw ValidationError("pushSubject must be a mailto: or https: URI") }
            push.subject = subject
        }
        try Self.configureProviders(&push, settings: settings)
        let vapid: VAPIDKey?
        do {
            vapid = try VAPIDKeyFile.load(fromDirectory: keyDir)
        } catch {
            throw ValidationError("\(error)")
        }
        if vapid == nil {
            logger.warning("no VAPID key: Web Push registrations are refused", metadata: ["path": "\(VAPIDKeyFile.path(inDirectory: keyDir))"])
        }
        let region = settings.name
        let notifier = PushNotifier(
            store: store.pushHook.store, settings: push, vapid: vapid, group: group, replicator: replicator,
            servedHomes: {
                guard let replicator else { return [region] }
                let map = replicator.map
                return map.regions.filter { map.servesHere($0) }
            },
            logger: logger)
        store.pushHook.attach(notifier)
        logger.info("push providers", metadata: ["providers": "\(notifier.availableProviders.map(\.rawValue).sorted().joined(separator: ","))"])
        var answers: [String: OpsResponse] = [:]
        if let vapid {
            answers["/push/vapid"] = .text(.ok, vapid.publicKeyBase64URL + "\n")
        }
        return Pushes(notifier: notifier, task: notifier.start(), httpAnswers: answers)
    }

    /// APNs and FCM from the region settings (`pushAPNs*`, `pushFCM*`,
    /// `pushCAFile`); each is on only when its key file is named.
    static func configureProviders(_ push: inout PushSettings, settings: RegionSettings) throws {
        let endpoints = ProviderEndpointGuard(allowPrivate: push.allowPrivateEndpoints)
        do throws(PushError) {
            if let caFile = settings.pushCAFile {
                guard FileManager.default.isReadableFile(atPath: caFile) else { throw PushError(.badKey, "pushCAFile \(caFile) cannot be read") }
                push.extraCAFile = caFile
            }
            if let keyFile = settings.pushAPNsKeyFile {
                guard let keyID = settings.pushAPNsKeyID, let teamID = settings.pushAPNsTeamID else {
                    throw PushError(.badKey, "pushAPNsKeyFile needs pushAPNsKeyID and pushAPNsTeamID")
                }
                let credentials = try APNsCredentials(pem: try Self.readSmallFile(keyFile, setting: "pushAPNsKeyFile"), keyID: keyID, teamID: teamID)
                push.apns = PushSettings.APNs(
                    credentials: credentials,
                    productionURL: try endpoints.checkConfigured(settings.pushAPNsURL ?? "https://api.push.apple.com", setting: "pushAPNsURL"),
                    sandboxURL: try endpoints.checkConfigured(settings.pushAPNsSandboxURL ?? "https://api.sandbox.push.apple.com", setting: "pushAPNsSandboxURL"))
            }
            if let accountFile = settings.pushFCMServiceAccountFile {
                let account = try FCMServiceAccount(json: Array(try Self.readSmallFile(accountFile, setting: "pushFCMServiceAccountFile").utf8))
                _ = try endpoints.checkConfigured(account.tokenURI.absoluteString, setting: "the service account's token_uri")
                push.fcm = PushSettings.FCM(
                    account: account,
                    baseURL: try endpoints.checkConfigured(settings.pushFCMURL ?? "https://fcm.googleapis.com", setting: "pushFCMURL"))
            }
        } catch {
            throw ValidationError("push: \(error.detail)")
        }
    }

    /// A key file's text (at most 64 KiB).
    static func readSmallFile(_ path: String, setting: String) throws(PushError) -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 64 * 1024, let text = String(data: data, encoding: .utf8) else {
            throw PushError(.badKey, "\(setting) \(path) cannot be read (or is larger than 64 KiB, or not text)")
        }
        return text
    }
}
