import Foundation
import Logging
import NIOCore
import NIOPosix
import RelayCore
import RelayStore

/// The operator's hand on region authority (`relayctl failover`,
/// `failback`): it writes region states into every reachable region's
/// Redis and tells their relays (Pub/Sub `regions`). Regions it cannot reach
/// learn from their peers' gossip before they accept a write.
package final class RegionControl: Sendable {
    struct RegionEndpoint: Sendable {
        var name: String
        var redis: RedisClient
    }

    package let topology: Topology
    let regions: [RegionEndpoint]
    private let loop: any EventLoop

    /// Connects (lazily) to every region's Redis named by `topologyPath`'s settings files.
    package init(topologyPath: String) throws {
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
            guard let address = HostPort(argument: settings.redis) else { throw RelayCtlError("\(path): redis \(settings.redis) is not HOST:PORT") }
            var configuration = RedisConfiguration(host: address.host, port: address.port)
            configuration.connectionCount = 1
            configuration.connectTimeout = .milliseconds(500)
            configuration.commandTimeout = .seconds(2)
            configuration.maximumReconnectDelay = .milliseconds(200)
            return RegionEndpoint(name: region.name, redis: RedisClient(configuration: configuration, logger: Logger(label: "relayctl.redis")))
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
