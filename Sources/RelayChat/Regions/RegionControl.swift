import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayOps
import RelayReplication
import RelayStore
import RelayTopology

/// The operator's hand on region authority (`relayctl failover`,
/// `failback`): it writes region states into every reachable region's
/// Redis and tells their relays (Pub/Sub `regions`). Regions it cannot reach
/// learn from their peers' gossip before they accept a write.
package final class RegionControl: Sendable {
    package struct RegionEndpoint: Sendable {
        package var name: String
        package var redis: RedisClient
    }

    package let topology: Topology
    package let regions: [RegionEndpoint]
    private let loop: any EventLoop

    /// Connects (lazily) to every region's Redis named by `topologyPath`'s
    /// settings files; the connections log from `redisLogLevel` up (a reader
    /// that polls, like the console, need not log every failed reconnect).
    package init(topologyPath: String, redisLogLevel: Logger.Level = .info) throws {
        let topology: Topology
        do {
            topology = try Topology.load(path: topologyPath)
        } catch {
            throw RelayCtlError("cannot read \(topologyPath): \(error); relayctl topology check --file \(topologyPath) explains")
        }
        self.topology = topology
        let directory = URL(fileURLWithPath: topologyPath).deletingLastPathComponent()
        self.regions = try topology.regions.map { region in
            let path = region.settings.hasPrefix("/") ? region.settings : directory.appendingPathComponent(region.settings).path
            let settings = try RegionSettings.load(path: path)
            var configuration: RedisConfiguration
            do {
                configuration = try settings.redisConfiguration()
            } catch {
                throw RelayCtlError("\(path): \(error)")
            }
            configuration.connectionCount = 1
            configuration.connectTimeout = .milliseconds(500)
            configuration.commandTimeout = .seconds(2)
            configuration.maximumReconnectDelay = .milliseconds(200)
            var logger = Logger(label: "relayctl.redis")
            logger.logLevel = redisLogLevel
            return RegionEndpoint(name: region.name, redis: RedisClient(configuration: configuration, logger: logger))
        }
        self.loop = MultiThreadedEventLoopGroup.singleton.next()
    }

    /// Closes the Redis connections.
    package func close() {
        for region in regions { region.redis.close() }
    }

    /// An empty map of the deployment (every region serving itself).
    var baseMap: RegionMap {
        RegionMap(local: regions.first?.name ?? "", standbys: topology.standbys)
    }

    /// Each region's stored view, or nil when its Redis does not answer.
    func views() async -> [String: [String: RegionMap.State]?] {
        var views: [String: [String: RegionMap.State]?] = [:]
        for region in regions {
            do {
                views[region.name] = try await RegionAuthority.storedView(in: region.redis, on: loop).get()
            } catch {
                views[region.name] = .some(nil)
            }
        }
        return views
    }

    /// The deployment's view: the highest term of each region among the reachable ones.
    package func mergedMap() async -> (map: RegionMap, reachable: [String], unreachable: [String]) {
        var map = baseMap
        var reachable: [String] = [], unreachable: [String] = []
        for (name, view) in await views().sorted(by: { $0.key < $1.key }) {
            if let view { map.merge(view); reachable.append(name) } else { unreachable.append(name) }
        }
        return (map, reachable, unreachable)
    }

    /// The deployment's view as `mergedMap()` reads it, but every region's
    /// Redis asked at once and each given at most `timeout`: a region whose
    /// Redis is down (a drill killed it) counts as unreachable instead of
    /// holding up the others (the operations console reads this every second).
    package func mergedMap(within timeout: Duration) async -> (map: RegionMap, reachable: [String], unreachable: [String]) {
        let loop = self.loop
        let nanoseconds = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let views = await withTaskGroup(of: (String, [String: RegionMap.State]?).self) { group in
            for region in regions {
                group.addTask {
                    let view: [String: RegionMap.State]? = await withCheckedContinuation { continuation in
                        // Whichever comes first, the answer or the deadline, resumes; the other finds it done.
                        let resumed = NIOLockedValueBox(false)
                        let resume: @Sendable ([String: RegionMap.State]?) -> Void = { value in
                            let first = resumed.withLockedValue { done in
                                defer { done = true }
                                return !done
                            }
                            if first { continuation.resume(returning: value) }
                        }
                        let deadline = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { resume(nil) }
                        RegionAuthority.storedView(in: region.redis, on: loop).whenComplete { result in
                            deadline.cancel()
                            resume(try? result.get())
                        }
                    }
                    return (region.name, view)
                }
            }
            var views: [(String, [String: RegionMap.State]?)] = []
            for await view in group { views.append(view) }
            return views
        }
        var map = baseMap
        var reachable: [String] = [], unreachable: [String] = []
        for (name, view) in views.sorted(by: { $0.0 < $1.0 }) {
            if let view { map.merge(view); reachable.append(name) } else { unreachable.append(name) }
        }
        return (map, reachable, unreachable)
    }

    /// Writes `state` of `region` into every reachable region; returns those it reached.
    func publish(_ state: RegionMap.State, of region: String) async -> [String] {
        var reached: [String] = []
        for endpoint in regions {
            do {
                _ = try await endpoint.redis.pipeline([
                    RedisCommand("HSET", RegionAuthority.key, region, state.stored),
                    RedisCommand("PUBLISH", RegionAuthority.channel, region),
                ], on: loop).get().map { try $0.get() }
                reached.append(endpoint.name)
            } catch {
                continue
            }
        }
        return reached
    }

    /// Frames `from` has not yet had acknowledged by `to`, or nil when `from` does not answer.
    func backlog(from: String, to: String) async -> UInt64? {
        guard let endpoint = regions.first(where: { $0.name == from }) else { return nil }
        return try? await Outbox(redis: endpoint.redis).status(peer: to, on: loop).get().depth
    }
}
