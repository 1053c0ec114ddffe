import ArgumentParser
import Logging
import NIOCore
import RelayPush

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
        var answers: [String: OpsResponse] = [:]
        if let vapid {
            answers["/push/vapid"] = .text(.ok, vapid.publicKeyBase64URL + "\n")
        }
        return Pushes(notifier: notifier, task: notifier.start(), httpAnswers: answers)
    }
}
