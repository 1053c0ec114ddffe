import NIOConcurrencyHelpers
import RelayPush
import RelayStore

/// Where the chat store tells the push side that something was queued for
/// a device no node of the region holds a connection for. The notifier is
/// attached once the process is wired (`relay serve`); until then, and in
/// tools that run no notifier, nothing is pushed.
package final class PushHook: Sendable {
    /// Registrations and pending pushes (also used to apply mirrored registrations).
    package let store: PushStore
    private let notifier = NIOLockedValueBox<PushNotifier?>(nil)

    init(redis: RedisClient) {
        self.store = PushStore(redis: redis)
    }

    /// Pushes go through `notifier` from now on.
    package func attach(_ notifier: PushNotifier) {
        self.notifier.withLockedValue { $0 = notifier }
    }

    /// The attached notifier, if any.
    var attached: PushNotifier? { notifier.withLockedValue { $0 } }

    /// Statuses or events were queued for the offline `device`.
    func queued(device: String, entries: [[UInt8]]) {
        guard let urgency = PushWorthiness.urgency(of: entries), let notifier = attached else { return }
        notifier.queued(device: device, urgency: urgency)
    }

    /// Messages were marked for the offline `device`.
    func marked(device: String) {
        attached?.queued(device: device, urgency: .high)
    }

    /// `device` connected to a node of the region.
    func connected(device: String) {
        attached?.connected(device: device)
    }
}
