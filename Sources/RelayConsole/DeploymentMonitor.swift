import Foundation
import Logging
import MetricsScrape
import RelayChat
import RelayCore
import RelayLinkEmulator
import RelayOps
import RelayTopology
import ServiceLifecycle
import Synchronization

/// Reads the deployment once a second: every region's `/metrics` and
/// `/readyz`, the region authority in every region's Redis (as `relayctl
/// failover` does), and every delay proxy's `status`; publishes the view as
/// the `deployment` event. A `Service`: it stops on graceful shutdown and
/// then ends the event streams.
package final class DeploymentMonitor: Service {
    private let topology: Topology
    private let topologyPath: String
    private let events: ConsoleEvents
    private let interval: Duration
    private let logger: Logger
    private let latest = LatestView()

    /// A monitor of the deployment of `topologyPath` (already loaded as `topology`).
    package init(topology: Topology, topologyPath: String, events: ConsoleEvents, interval: Duration = .seconds(1), logger: Logger) {
        self.topology = topology
        self.topologyPath = topologyPath
        self.events = events
        self.interval = interval
        self.logger = logger
    }

    /// The latest view, if one was read.
    package var view: DeploymentView? { latest.value }

    /// Reads until graceful shutdown.
    package func run() async throws {
        let control = try RegionControl(topologyPath: topologyPath, redisLogLevel: .error)
        defer {
            control.close()
            events.finish()
        }
        // Graceful shutdown cancels the loop; that is its end, not a failure.
        await cancelWhenGracefulShutdown {
            var counters = DeploymentView.Counters()
            while !Task.isCancelled {
                let (view, next) = await self.readOnce(control: control, previous: counters)
                counters = next
                self.latest.value = view
                self.events.publish(.init(name: "deployment", data: ConsoleHTML.deploymentFragment(view)))
                // A poll period: the regions push nothing.
                guard (try? await Task.sleep(for: self.interval)) != nil else { return }
            }
        }
    }

    /// One reading of everything, concurrently.
    func readOnce(control: RegionControl, previous: DeploymentView.Counters) async -> (DeploymentView, DeploymentView.Counters) {
        async let readings = readRegions()
        async let proxies = readProxies()
        async let merged = control.mergedMap(within: .milliseconds(700))
        let (map, reachable, _) = await merged
        return DeploymentView.build(topology: topology, readings: await readings, map: reachable.isEmpty ? nil : map,
                                    proxies: await proxies, previous: previous, nowMs: Date().timeIntervalSince1970 * 1000)
    }

    private func readRegions() async -> [String: DeploymentView.RegionReading] {
        await withTaskGroup(of: (String, DeploymentView.RegionReading).self) { group in
            for region in topology.regions {
                group.addTask {
                    guard let address = HostPort(argument: region.http) else { return (region.name, .init(metrics: nil, readiness: nil)) }
                    async let metrics = try? PlainHTTP.get("/metrics", host: address.host, port: address.port)
                    async let readiness = try? PlainHTTP.get("/readyz", host: address.host, port: address.port)
                    return (region.name, .init(metrics: await metrics, readiness: await readiness))
                }
            }
            var readings: [String: DeploymentView.RegionReading] = [:]
            for await (name, reading) in group { readings[name] = reading }
            return readings
        }
    }

    private func readProxies() async -> [String: LinkStatus?] {
        let controls = topology.links.flatMap(\.proxies).map(\.control)
        return await withTaskGroup(of: (String, LinkStatus?).self) { group in
            for control in controls {
                group.addTask {
                    guard let address = HostPort(argument: control),
                          let reply = try? await LinkControlClient.exchange(LinkControlCommand.status.line, with: address) else {
                        return (control, nil)
                    }
                    return (control, try? JSONDecoder().decode(LinkStatus.self, from: Data(reply.utf8)))
                }
            }
            var statuses: [String: LinkStatus?] = [:]
            for await (control, status) in group { statuses[control] = .some(status) }
            return statuses
        }
    }
}

/// The monitor's latest view, read by request handlers.
private final class LatestView: Sendable {
    private let box = Mutex<DeploymentView?>(nil)
    var value: DeploymentView? {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }
}
