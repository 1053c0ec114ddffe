/// The drill's traffic: one message every 1/rate seconds, over all devices in
/// turn, each in its 1:1 conversation with a unique client message id.
final class DrillTraffic: Sendable {
    private let devices: [DrillDevice]
    private let ledger: DrillLedger
    private let clock: DrillClock
    private let interval: Duration
    private let task = AwaitableState<Task<Void, Never>?>(nil)

    /// Traffic of `rate` messages a second over `devices`.
    init(devices: [DrillDevice], ledger: DrillLedger, clock: DrillClock, rate: Double) {
        self.devices = devices
        self.ledger = ledger
        self.clock = clock
        interval = .microseconds(Int64(1_000_000 / rate))
    }

    /// Starts composing.
    func start() {
        let composing = Task {
            let start = ContinuousClock.now
            var count = 0
            while !Task.isCancelled {
                let device = devices[count % devices.count]
                let identity = device.identity
                let index = ledger.compose(id: "\(identity.device)-m\(count)", sender: identity.index, recipient: identity.partner,
                                           conversation: identity.conversation, at: clock.nowMs)
                device.enqueue(index)
                count += 1
                // Paced against the start, so the rate does not drift.
                try? await Task.sleep(until: start + interval * count, clock: .continuous)
            }
        }
        task.update { $0 = composing }
    }

    /// Stops composing (what was composed is still sent).
    func stop() {
        task.value?.cancel()
    }
}
