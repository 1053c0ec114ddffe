import RelayOps
import RelayStore
import RelayTopology

extension RegionSettings {
    /// The problems of the Redis settings (`redis`, `redisCluster`), for
    /// `relayctl topology check` and `relay serve`; empty when they are usable.
    var redisProblems: [String] {
        var problems: [String] = []
        if let seeds = redisCluster {
            if seeds.isEmpty { problems.append("redisCluster names no seed node (leave it out for one Redis)") }
            for seed in seeds where RedisNodeAddress(seed) == nil {
                problems.append("redisCluster seed \(seed) is not HOST:PORT")
            }
            if Set(seeds).count != seeds.count { problems.append("redisCluster names a seed twice") }
        } else if HostPort(argument: redis) == nil {
            problems.append("redis \(redis) is not HOST:PORT")
        }
        return problems
    }

    /// The client configuration for this region's store: the Redis Cluster
    /// of `redisCluster` when given (its seeds), else the one Redis of
    /// `redis`. Throws when the settings have a problem.
    package func redisConfiguration() throws -> RedisConfiguration {
        if let problem = redisProblems.first { throw RelayCtlError(problem) }
        if let seeds = redisCluster {
            return RedisConfiguration(clusterSeeds: seeds.compactMap { RedisNodeAddress($0) })
        }
        guard let address = HostPort(argument: redis) else { throw RelayCtlError("redis \(redis) is not HOST:PORT") }
        return RedisConfiguration(host: address.host, port: address.port)
    }
}
