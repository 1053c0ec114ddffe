import Logging
import NIOCore
import RelayOps

/// Work no device waits for: mirrored cursors and queue acknowledgements,
/// DELIVERED statuses, membership notes for presence, presence and typing
/// frames, takeover notices. A failure is never silent: it is logged and
/// counted in `relay_background_failures_total{kind}`. Work a guarantee
/// depends on is retried a few times first (``retry(_:on:metadata:_:)``);
/// best-effort work (presence, typing) is counted and logged at debug level.
struct BackgroundWork: Sendable {
    /// What failed, the metric's `kind` label.
    enum Kind: String, Sendable {
        /// A device's cursor or queue acknowledgement mirrored to the standby
        /// (lost, the standby redelivers what the device already had: duplicates).
        case cursorMirror = "cursor_mirror"
        /// A DELIVERED status for the sender's devices.
        case delivered
        /// The note that two users share a conversation (presence visibility).
        case membership
        /// Presence frames and marks (best effort).
        case presence
        /// Typing frames and wake-ups (best effort).
        case typing
        /// The notice to other nodes that a device connected here.
        case takeover
        /// Reloading the region states after a change notice.
        case regionReload = "region_reload"
        /// The fan-out or SEQUENCED status of a forwarded send already
        /// stored, in async mode (the sweeper finishes a fan-out).
        case forwardedFanOut = "forwarded_fanout"

        /// Best effort by design: counted, logged only at debug level.
        var isBestEffort: Bool { self == .presence || self == .typing }
    }

    /// Attempts of retried work, the first included.
    static let attempts = 3
    /// Delay before the second attempt; doubled before each later one.
    static let firstDelay = TimeAmount.milliseconds(100)

    let logger: Logger
    private let failures = LabeledCounters(label: "relay_background_failures_total", dimension: "kind")

    init(logger: Logger) {
        self.logger = logger
    }

    /// Logs and counts `future`'s failure.
    func watch<T: Sendable>(_ future: EventLoopFuture<T>, _ kind: Kind, metadata: Logger.Metadata = [:]) {
        future.whenFailure { error in self.failed(kind, error, metadata: metadata) }
    }

    /// Runs `work`, again after a growing delay when it fails (at most
    /// ``attempts`` in all); the last failure is logged and counted.
    func retry<T: Sendable>(_ kind: Kind, on loop: any EventLoop, metadata: Logger.Metadata = [:],
                            _ work: @escaping @Sendable () -> EventLoopFuture<T>) {
        attempt(kind, number: 1, delay: Self.firstDelay, on: loop, metadata: metadata, work)
    }

    private func attempt<T: Sendable>(_ kind: Kind, number: Int, delay: TimeAmount, on loop: any EventLoop,
                                      metadata: Logger.Metadata, _ work: @escaping @Sendable () -> EventLoopFuture<T>) {
        work().whenFailure { error in
            guard number < Self.attempts else {
                self.failed(kind, error, metadata: metadata.merging(["attempts": "\(number)"]) { a, _ in a })
                return
            }
            loop.scheduleTask(in: delay) {
                self.attempt(kind, number: number + 1, delay: delay * 2, on: loop, metadata: metadata, work)
            }
        }
    }

    private func failed(_ kind: Kind, _ error: any Error, metadata: Logger.Metadata) {
        failures.increment(kind.rawValue)
        var metadata = metadata
        metadata["kind"] = "\(kind.rawValue)"
        metadata["error"] = "\(error)"
        logger.log(level: kind.isBestEffort ? .debug : .warning, "background work failed", metadata: metadata)
    }
}
