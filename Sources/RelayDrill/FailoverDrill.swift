import Foundation
import RelayClient
import RelayChat
import RelayCore
import RelayIdentity
import RelayOps
import RelayTopology

/// A whole drill of one region (`relayctl drill failover`): devices in every
/// region talking 1:1 across regions, then the region killed and failed over
/// to its standby, restarted and failed back (or, with `partition`, its link
/// to the standby cut and healed), then the report of what the devices
/// received.
package struct FailoverDrill: Sendable {
    /// What to run.
    package struct Options: Sendable {
        package var region: String
        package var mode: MirrorMode?
        package var devices = 6
        /// Sends per second over all devices.
        package var rate: Double = 20
        /// Seconds of traffic after the kill (cut).
        package var duration: Double = 10
        package var partition = false
        /// No failover command: the deployment must notice by itself (and fail back).
        package var automatic = false
        package var topologyPath = "topology.json"
        package var keyDir = "keys"
        package var runDir = "run"
        /// Progress lines (to stderr), or nil for none.
        package var progress: (@Sendable (String) -> Void)?

        /// What to run against the deployment of `topologyPath`; the rest as its defaults.
        package init(region: String, mode: MirrorMode? = nil, devices: Int = 6, rate: Double = 20, duration: Double = 10,
                     partition: Bool = false, automatic: Bool = false, topologyPath: String = "topology.json",
                     keyDir: String = "keys", runDir: String = "run", progress: (@Sendable (String) -> Void)? = nil) {
            self.region = region
            self.mode = mode
            self.devices = devices
            self.rate = rate
            self.duration = duration
            self.partition = partition
            self.automatic = automatic
            self.topologyPath = topologyPath
            self.keyDir = keyDir
            self.runDir = runDir
            self.progress = progress
        }
    }

    /// Bounds on the waits of a drill.
    enum Bounds {
        static let connect = Duration.seconds(30)
        static let warmUp = Duration.seconds(30)
        static let restart = Duration.seconds(60)
        static let failback: Double = 60
        static let comeBack = Duration.seconds(30)
        static let drain = Duration.seconds(30)
        /// Draining ends early when every outbox has been empty and no delivery came for this long.
        static let quiet = Duration.seconds(3)
        /// Traffic kept after the region serves itself again.
        static let afterwards: Double = 2
        /// Traffic before the kill at the least (capped by the duration), so that
        /// acknowledged sends are in flight when the region dies.
        static let minimumWarmUp: Double = 2
        /// Longest wait for an automatic failover (or failback) to show.
        static let automatic = Duration.seconds(30)
    }

    let options: Options

    /// A drill that runs `options`.
    package init(options: Options) {
        self.options = options
    }

    /// Runs the drill; throws (with what to fix) only when it could not run.
    package func run() async throws -> DrillReport {
        let options = self.options
        guard options.devices >= 2 else { throw RelayCtlError("--devices must be at least 2 (each talks to a device of another region)") }
        guard options.rate > 0, options.duration > 0 else { throw RelayCtlError("--rate and --duration must be positive") }
        let deployment = try await DrillDeployment.load(
            region: options.region, mode: options.mode, partition: options.partition, automatic: options.automatic,
            topologyPath: options.topologyPath, keyDir: options.keyDir, runDir: options.runDir)
        let clock = DrillClock()
        let ledger = DrillLedger()
        var timeline: [String: Double] = [:]
        var notes: [String] = []
        func mark(_ event: String) {
            timeline[event] = clock.nowMs
            options.progress?("t+\(Int(clock.nowMs)) ms  \(event)")
        }

        let devices = try await makeDevices(deployment, ledger: ledger, clock: clock)
        let media = try DrillMedia(deployment, keyDir: options.keyDir)
        var mediaDuringFailover: Int?
        let sampler = ReplicationLagSampler(regions: deployment.topology.regions.map { ($0.name, $0.http) }, clock: clock)
        let traffic = DrillTraffic(devices: devices, ledger: ledger, clock: clock, rate: options.rate)
        defer {
            traffic.stop()
            media?.cancel()
            _ = sampler.stop()
            for device in devices { device.stop() }
        }
        for device in devices { device.start() }
        do {
            for device in devices { try await device.link.wait(until: { $0.isReady }, timeout: Bounds.connect) }
        } catch {
            let missing = devices.filter { !$0.link.value.isReady }.map { "\($0.identity.device) (home \($0.identity.home))" }
            throw RelayCtlError("devices could not connect within \(Bounds.connect): \(missing.joined(separator: ", "))")
        }
        mark("devices connected")
        sampler.start()
        traffic.start()
        if let media {
            media.startUploading()  // from the warm-up to the kill, so that some uploads complete just before it
            mark("uploading media to \(deployment.region.name)")
        }
        let trafficStart = ContinuousClock.now
        do {
            try await ledger.book.wait(until: { $0.receivingDevices.count == devices.count }, timeout: Bounds.warmUp)
        } catch {
            let book = ledger.snapshot
            let silent = devices.filter { !book.receivingDevices.contains($0.identity.index) }.map(\.identity.device)
            throw RelayCtlError("warm-up: \(silent.joined(separator: ", ")) received nothing within \(Bounds.warmUp) (\(book.acked) of \(book.sends.count) sends acknowledged): is replication running between the regions (relay serve --topology)?")
        }
        mark("every device received a message")
        let warmed = ContinuousClock.now - trafficStart
        let rest = Duration.seconds(min(Bounds.minimumWarmUp, options.duration)) - warmed
        if rest > .zero { try await Task.sleep(for: rest) }  // traffic before the kill, by design
        mark("warmed up")

        let region = deployment.region.name
        let killMs: Double
        var detectionMs: Double?
        if options.partition && options.automatic {
            killMs = clock.nowMs
            try await deployment.link(.cut, isolating: true)
            await media?.stopUploading()
            mark("\(region) cut off from every region")
            let control = try RegionControl(topologyPath: options.topologyPath)
            defer { control.close() }
            let term = try await awaitServing(region, by: deployment.standby.name, control: control)
            detectionMs = clock.nowMs - killMs
            mark("failed over automatically to \(deployment.standby.name) (term \(term))")
            if await deployment.fencedItself() {
                mark("\(region) fenced itself (no write lease)")
            } else {
                notes.append("\(region) still took writes after its standby took over: it did not lose its lease")
            }
            try await Task.sleep(for: .seconds(options.duration))  // the drill's traffic phase: a length of time, not a wait for an event
            try await deployment.link(.heal, isolating: true)
            mark("links healed")
            let back = try await awaitServing(region, by: region, above: term, control: control, timeout: Bounds.automatic + Bounds.restart)
            mark("failed back automatically (term \(back))")
        } else if options.partition {
            killMs = clock.nowMs
            try await deployment.link(.cut)
            await media?.stopUploading()
            mark("link \(region)<->\(deployment.standby.name) cut")
            try await Task.sleep(for: .seconds(options.duration))  // the drill's traffic phase: a length of time, not a wait for an event
            try await deployment.link(.heal)
            mark("link healed")
        } else if options.automatic {
            killMs = clock.nowMs
            let pids = try deployment.killRegion()
            mark("\(region) killed (SIGKILL \(pids.map(String.init).joined(separator: " ")))")
            await media?.stopUploading()
            let control = try RegionControl(topologyPath: options.topologyPath)
            defer { control.close() }
            let term: UInt32
            do {
                term = try await awaitServing(region, by: deployment.standby.name, control: control)
            } catch {
                try? await deployment.restartRegion(timeout: Bounds.restart)
                throw error
            }
            detectionMs = clock.nowMs - killMs
            mark("failed over automatically to \(deployment.standby.name) (term \(term))")
            if let media { mediaDuringFailover = await checkMedia(media, mark: mark) }
            try await Task.sleep(for: .seconds(options.duration))  // the drill's traffic phase: a length of time, not a wait for an event
            mark("restarting \(region)")
            try await deployment.restartRegion(timeout: Bounds.restart)
            mark("\(region) restarted")
            let back = try await awaitServing(region, by: region, above: term, control: control, timeout: Bounds.automatic + Bounds.restart)
            mark("failed back automatically (term \(back))")
        } else {
            killMs = clock.nowMs
            let pids = try deployment.killRegion()
            mark("\(region) killed (SIGKILL \(pids.map(String.init).joined(separator: " ")))")
            await media?.stopUploading()
            await deployment.waitUntilDown(timeout: .seconds(5))
            let control = try RegionControl(topologyPath: options.topologyPath)
            defer { control.close() }
            do {
                let outcome = try await RegionFailover.failover(region, control: control)
                mark("failed over to \(outcome.servedBy) (term \(outcome.term))")
                if let media { mediaDuringFailover = await checkMedia(media, mark: mark) }
            } catch {
                notes.append("failover failed: \(error)")
                try? await deployment.restartRegion(timeout: Bounds.restart)
                throw RelayCtlError("failover of \(region) failed: \(error); the drill restarted \(region), check its state with relayctl")
            }
            try await Task.sleep(for: .seconds(options.duration))  // the drill's traffic phase: a length of time, not a wait for an event
            mark("restarting \(region)")
            try await deployment.restartRegion(timeout: Bounds.restart)
            mark("\(region) restarted")
            let outcome = try await failback(region, control: control)
            mark("failed back (term \(outcome.term), \(outcome.drainedFrames) frames drained in \(outcome.catchUpMs) ms)")
        }

        // The region's devices come back to it: redirected there, or reconnecting home.
        let homeAddress = try? Endpoint(parsing: deployment.region.devices)
        let regionDevices = devices.filter { $0.identity.home == region }
        do {
            for device in regionDevices {
                try await device.link.wait(until: { $0.isReady && $0.endpoint == homeAddress }, timeout: Bounds.comeBack)
            }
            mark("\(region)'s devices back home")
        } catch {
            let away = regionDevices.filter { !($0.link.value.isReady && $0.link.value.endpoint == homeAddress) }
            notes.append("\(away.count) of \(region)'s devices were not back on \(deployment.region.devices) within \(Bounds.comeBack)")
        }
        try await Task.sleep(for: .seconds(min(Bounds.afterwards, options.duration)))  // a little more traffic, by design
        traffic.stop()
        mark("traffic stopped")
        switch await drain(ledger: ledger, sampler: sampler, clock: clock) {
        case .settled:
            mark("every acknowledged send delivered")
        case .quiet:
            mark("drained: outboxes empty and no delivery for \(Bounds.quiet)")
        case .timedOut:
            mark("drain ended")
            notes.append("draining stopped after \(Bounds.drain) with deliveries still arriving or outboxes not empty")
        }
        var mediaFigures: DrillMedia.Figures?
        if let media {
            let after = await media.checkAtRegion()
            mark("media checked at \(region)")
            let figures = media.figures(duringFailover: mediaDuringFailover, afterFailback: after)
            if figures.lost > 0 { notes.append("media lost: \(figures.lostIDs.joined(separator: ", "))") }
            mediaFigures = figures
        }
        let left = ledger.snapshot
        if !left.settled {
            notes.append("\(left.sends.count - left.acked) sends never acknowledged, \(left.acked - left.ackedAndDelivered) acknowledged sends never delivered")
        }
        let peak = sampler.stop()
        let figures = DrillChecker(regionDevices: Set(regionDevices.map(\.identity.index)), killMs: killMs).figures(of: ledger.snapshot)
        if figures.rtoMs == nil { notes.append("no message composed by \(region)'s devices after the \(options.partition ? "cut" : "kill") arrived") }
        let homes = Dictionary(uniqueKeysWithValues: devices.map { ($0.identity.index, $0.identity.home) })
        let series = DrillSeries(
            deliveries: ledger.snapshot.deliveries.map { ($0.arrivalMs, homes[$0.device] ?? "?") },
            links: sampler.linkSamples, endMs: clock.nowMs)
        for send in figures.lost.prefix(10) {
            // Which messages, to look them up in the regions' logs and Redis.
            let acked = send.ackedMs.map { String(format: "%+.0f", $0 - killMs) } ?? "?"
            notes.append("lost: \(send.id) from device \(send.sender) (\(homes[send.sender] ?? "?")) to \(send.recipient) (\(homes[send.recipient] ?? "?")) in \(send.conversation), acknowledged at kill\(acked) ms after \(send.attempts) publish(es)")
        }
        return DrillReport(
            kind: options.partition ? "partition" : "failover", automatic: options.automatic, detectionMs: detectionMs, region: region, standby: deployment.standby.name,
            mode: deployment.mirror.rawValue, devices: devices.count, rate: options.rate, durationSeconds: options.duration,
            rtoMs: figures.rtoMs, rpoMessages: figures.rpoMessages, rpoMs: figures.rpoMs,
            ackedBeforeKill: figures.ackedBeforeKill, lostAcknowledged: figures.lostAcknowledged,
            duplicates: figures.duplicates, outOfOrder: figures.outOfOrder,
            maxReplicationLagMs: peak.lagMs, maxReplicationLagRegion: peak.lagRegion, maxOutboxFrames: peak.outboxFrames, lagSamples: peak.samples,
            sent: figures.sent, published: figures.published, acked: figures.acked, delivered: figures.delivered,
            deliveries: figures.deliveries, unacknowledged: figures.unacknowledged, refusals: figures.refused,
            mediaUploaded: mediaFigures?.uploaded, mediaLost: mediaFigures?.lost,
            mediaLostDuringFailover: mediaFigures?.lostDuringFailover, mediaLostAfterFailback: mediaFigures?.lostAfterFailback,
            timeline: timeline.merging([options.partition ? "cut" : "kill": killMs]) { a, _ in a }, notes: notes,
            series: series)
    }

    /// While the standby serves the region: the blobs acknowledged before
    /// the kill downloaded from it, and a few more uploaded to it (checked
    /// at the region after the failback: copied back). The number missing.
    private func checkMedia(_ media: DrillMedia, mark: (String) -> Void) async -> Int {
        let missing = await media.checkAtStandby()
        mark("media checked at the standby")
        await media.uploadAtStandby(count: 3)
        mark("media uploaded at the standby")
        return missing
    }

    private enum Drained {
        /// Every composed send acknowledged, every acknowledged one delivered.
        case settled
        /// Sends all acknowledged, every region's outbox empty and nothing delivered for ``Bounds/quiet``: nothing more can come.
        case quiet
        case timedOut
    }

    /// Waits (at most ``Bounds/drain``) until every acknowledged send arrived, or nothing more can.
    private func drain(ledger: DrillLedger, sampler: ReplicationLagSampler, clock: DrillClock) async -> Drained {
        let deadline = ContinuousClock.now + Bounds.drain
        let quietMs = Double(Bounds.quiet.components.seconds) * 1000
        while ContinuousClock.now < deadline {
            // Woken by any delivery or acknowledgement; at least once a second to look at the outboxes.
            if (try? await ledger.book.wait(until: { $0.settled }, timeout: .seconds(1))) != nil { return .settled }
            let book = ledger.snapshot
            let lastArrival = book.deliveries.last?.arrivalMs ?? 0
            if book.acked == book.sends.count, sampler.outboxesEmptyFor >= Bounds.quiet, clock.nowMs - lastArrival >= quietMs {
                return .quiet
            }
        }
        return .timedOut
    }

    /// Waits (bounded) until the regions that answer agree that `region` is
    /// served by `server` (not fenced) under a term above `term`; returns
    /// that term. Polls the regions' Redis: another process's state, no
    /// event to await.
    private func awaitServing(_ region: String, by server: String, above term: UInt32 = 0, control: RegionControl,
                              timeout: Duration = Bounds.automatic) async throws -> UInt32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            let state = await control.mergedMap().map.state(of: region)
            if state.servedBy == server && !state.fenced && state.term > term { return state.term }
            guard ContinuousClock.now < deadline else {
                let what = server == region ? "fail back" : "fail over to \(server)"
                throw RelayCtlError("the deployment did not \(what) \(region) within \(timeout) by itself (now: served by \(state.servedBy), term \(state.term)\(state.fenced ? ", fenced" : "")); see the regions' logs")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Fails back, retrying while the restarted region's Redis is not reachable yet.
    private func failback(_ region: String, control: RegionControl) async throws -> RegionFailover.FailbackOutcome {
        let deadline = ContinuousClock.now + Bounds.restart
        while true {
            do {
                return try await RegionFailover.failback(region, control: control, timeout: Bounds.failback)
            } catch {
                guard ContinuousClock.now < deadline, await !control.mergedMap().reachable.contains(region) else {
                    throw RelayCtlError("failback of \(region) failed: \(error)")
                }
                try await Task.sleep(for: .milliseconds(200))  // the region's Redis is coming up: polling another process
            }
        }
    }

    /// N devices, homes round robin over the regions, each paired 1:1 with a device of another region.
    private func makeDevices(_ deployment: DrillDeployment, ledger: DrillLedger, clock: DrillClock) async throws -> [DrillDevice] {
        let regions = deployment.topology.regions
        let run = String((0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        let count = options.devices
        let users = (0..<count).map { "drill\(run)-u\($0)" }
        let issuer = TokenIssuer(key: deployment.key)
        var devices: [DrillDevice] = []
        for index in 0..<count {
            let partner = index ^ 1 < count ? index ^ 1 : index - 1
            let home = regions[index % regions.count]
            let standby = home.standby.flatMap { deployment.topology.region(named: $0) }
            let conversation = [users[index], users[partner]].sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                .joined(separator: "~")
            let identity = DrillDevice.Identity(index: index, user: users[index], device: "drill\(run)-d\(index)",
                                                home: home.name, conversation: conversation, partner: partner)
            let token = try await issuer.issue(user: identity.user, device: identity.device, home: home.name, ttl: .seconds(6 * 3600))
            guard let homeEndpoint = try? Endpoint(parsing: home.devices) else {
                throw RelayCtlError("region \(home.name)'s devices address \(home.devices) is not HOST:PORT")
            }
            devices.append(try DrillDevice(identity: identity, token: token, home: homeEndpoint,
                                           standby: standby.flatMap { try? Endpoint(parsing: $0.devices) },
                                           ledger: ledger, clock: clock))
        }
        return devices
    }
}
