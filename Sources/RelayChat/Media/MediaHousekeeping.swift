import Logging
import NIOConcurrencyHelpers
import RelayMedia

/// The media part's background work: garbage collection every
/// `interval`, and copies to the standby as soon as an upload completes
/// (``wake()``) and at every pass for those that failed.
package final class MediaHousekeeping: Sendable {
    private let mirror: MediaMirror
    private let collector: MediaGarbageCollector
    private let interval: Duration
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    package init(mirror: MediaMirror, collector: MediaGarbageCollector, interval: Duration) {
        self.mirror = mirror
        self.collector = collector
        self.interval = interval
        (wakeups, wakeup) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Copies newly completed blobs now.
    package func wake() {
        wakeup.yield()
    }

    package func start() {
        let mirror = self.mirror
        let collector = self.collector
        let interval = self.interval
        let wakeups = self.wakeups
        let wakeup = self.wakeup
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                wakeup.yield()
            }
        }
        let worker = Task {
            var lastCollect = ContinuousClock.now - interval
            for await _ in wakeups {
                let now = ChatRouter.nowMilliseconds() / 1000
                await mirror.sweep(now: now)
                if ContinuousClock.now - lastCollect >= interval {
                    await collector.collect(now: now)
                    lastCollect = ContinuousClock.now
                }
            }
            ticker.cancel()
        }
        task.withLockedValue { $0 = worker }
    }

    package func stop() async {
        wakeup.finish()
        await task.withLockedValue { $0 }?.value
    }
}
