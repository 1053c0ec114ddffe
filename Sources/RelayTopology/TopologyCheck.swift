import Foundation

/// One thing wrong with a topology, said so that the reader knows what to fix.
public struct TopologyProblem: Sendable, Equatable, CustomStringConvertible {
    /// What kind of mistake it is; tests and tools switch on it.
    public enum Kind: Sendable, Equatable {
        case unreadable, noRegions, missingField, duplicateRegion
        case unknownStandby, selfStandby
        case badAddress, duplicatePort
        case missingLink, duplicateLink, badLink, badProxy
        case badSettings
        case badFailover
    }

    /// The kind of mistake.
    public var kind: Kind
    /// One line: where the mistake is and what to do about it.
    public var message: String

    /// A problem of `kind` explained by `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// Validates a ``Topology`` and the settings file of each of its regions, and
/// reports every problem found, not only the first.
public enum TopologyCheck {
    /// Checks the topology file at `path`; settings paths are resolved
    /// against the directory holding it.
    public static func check(path: String) -> (topology: Topology?, problems: [TopologyProblem]) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            return (nil, [TopologyProblem(.unreadable, "\(path): cannot be read (\(error.localizedDescription)); pass the right file with --file")])
        }
        let topology: Topology
        do {
            topology = try JSONDecoder().decode(Topology.self, from: data)
        } catch {
            return (nil, [TopologyProblem(.unreadable, "\(path): not a valid topology (\(describe(error))); fix the JSON")])
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let problems = check(topology) { settings in
            let url = settings.hasPrefix("/") ? URL(fileURLWithPath: settings) : base.appendingPathComponent(settings)
            return try Data(contentsOf: url)
        }
        return (topology, problems)
    }

    /// Checks `topology`, reading each region's settings file with `readSettings`.
    public static func check(_ topology: Topology, readSettings: (String) throws -> Data) -> [TopologyProblem] {
        var problems: [TopologyProblem] = []
        var listeners: [(address: TopologyAddress, owner: String)] = []

        func address(_ text: String, _ owner: String) -> TopologyAddress? {
            if text.isEmpty {
                problems.append(.init(.missingField, "\(owner): missing; give it as HOST:PORT"))
                return nil
            }
            guard let parsed = TopologyAddress(text) else {
                problems.append(.init(.badAddress, "\(owner): \"\(text)\" is not HOST:PORT with a port in 1-65535; write it like 127.0.0.1:7000"))
                return nil
            }
            return parsed
        }
        func listener(_ text: String, _ owner: String) {
            if let parsed = address(text, owner) { listeners.append((parsed, owner)) }
        }

        if topology.regions.isEmpty {
            problems.append(.init(.noRegions, "no regions: add at least one to \"regions\""))
        }
        var seen = Set<String>()
        let names = Set(topology.regions.map(\.name))
        for (index, region) in topology.regions.enumerated() {
            let label = region.name.isEmpty ? "regions[\(index)]" : "region \(region.name)"
            if region.name.isEmpty {
                problems.append(.init(.missingField, "\(label): has no \"name\"; give it one"))
            } else if !seen.insert(region.name).inserted {
                problems.append(.init(.duplicateRegion, "\(label): named twice; give each region its own name"))
            }
            listener(region.devices, "\(label) devices")
            listener(region.peers, "\(label) peers")
            listener(region.http, "\(label) http")
            if let nodes = region.nodes, !(1...Topology.Region.maximumNodes).contains(nodes) {
                problems.append(.init(.badSettings, "\(label): \"nodes\" is \(nodes); it must be a whole number from 1 to \(Topology.Region.maximumNodes)"))
            }
            // Node i listens i ports past node 0's peers and http (its devices port comes with the settings' "mqtt").
            for node in 1..<region.nodeCount {
                for (endpoint, name) in [(region.peers, "peers"), (region.http, "http")] {
                    if let address = region.address(endpoint, node: node) {
                        listeners.append((address, "\(label) node \(node) \(name)"))
                    } else if TopologyAddress(endpoint) != nil {
                        problems.append(.init(.badAddress, "\(label): node \(node)'s \(name) port would pass 65535; lower \"\(name)\" or \"nodes\""))
                    }
                }
            }
            if let standby = region.standby {
                if standby == region.name {
                    problems.append(.init(.selfStandby, "\(label): is its own standby; name another region or null"))
                } else if !names.contains(standby) {
                    problems.append(.init(.unknownStandby, "\(label): standby \"\(standby)\" is not a region; use one of \(names.sorted().joined(separator: ", ")) or null"))
                }
            }
            if let failback = region.failback, failback != "automatic", failback != Topology.Region.manualFailback {
                problems.append(.init(.badFailover, "\(label): failback \"\(failback)\" is neither \"automatic\" nor \"manual\""))
            }
            if region.settings.isEmpty {
                problems.append(.init(.missingField, "\(label): has no \"settings\"; point it at regions/\(region.name).json"))
            } else {
                checkSettings(region: region, label: label, replicated: topology.regions.count > 1, read: readSettings,
                              problems: &problems, listeners: &listeners)
            }
        }

        var linked = Set<Set<String>>()
        for (index, link) in topology.links.enumerated() {
            let label = link.between.count == 2 ? "link \(link.label)" : "links[\(index)]"
            guard link.between.count == 2, link.between[0] != link.between[1] else {
                problems.append(.init(.badLink, "\(label): \"between\" must name two different regions"))
                continue
            }
            for name in link.between where !names.contains(name) {
                problems.append(.init(.badLink, "\(label): \"\(name)\" is not a region; use one of \(names.sorted().joined(separator: ", "))"))
            }
            if !linked.insert(Set(link.between)).inserted {
                problems.append(.init(.duplicateLink, "\(label): given twice; keep one link per pair of regions"))
            }
            if !(link.rttMs >= 0) || !link.rttMs.isFinite {
                problems.append(.init(.badLink, "\(label): rttMs \(link.rttMs) must be 0 or more"))
            }
            if !(link.bandwidthKbps > 0) || !link.bandwidthKbps.isFinite {
                problems.append(.init(.badLink, "\(label): bandwidthKbps \(link.bandwidthKbps) must be more than 0"))
            }
            if !(link.loss >= 0 && link.loss < 1) {
                problems.append(.init(.badLink, "\(label): loss \(link.loss) must be a fraction from 0 up to (not including) 1"))
            }
            var towards = Set<String>()
            for proxy in link.proxies {
                if !link.between.contains(proxy.to) {
                    problems.append(.init(.badProxy, "\(label): a proxy leads to \"\(proxy.to)\", which is not on this link; use \(link.between.joined(separator: " or "))"))
                } else if !towards.insert(proxy.to).inserted {
                    problems.append(.init(.badProxy, "\(label): two proxies lead to \(proxy.to); keep one per direction"))
                }
                listener(proxy.listen, "\(label) proxy to \(proxy.to) listen")
                listener(proxy.control, "\(label) proxy to \(proxy.to) control")
            }
            for name in link.between where !towards.contains(name) {
                problems.append(.init(.badProxy, "\(label): no proxy leads to \(name); add {\"to\": \"\(name)\", \"listen\": HOST:PORT, \"control\": HOST:PORT} to its \"proxies\""))
            }
        }
        let regionNames = topology.regions.map(\.name).filter { !$0.isEmpty }
        for (i, a) in regionNames.enumerated() {
            for b in regionNames[(i + 1)...] where a != b && !linked.contains([a, b]) {
                problems.append(.init(.missingLink, "no link between \(a) and \(b); add {\"between\": [\"\(a)\", \"\(b)\"], \"rttMs\": ..., \"bandwidthKbps\": ..., \"loss\": ..., \"proxies\": [...]} to \"links\""))
            }
        }

        if let failover = topology.failover, failover.automatic {
            if topology.regions.count < 3 {
                problems.append(.init(.badFailover, "failover: automatic failover needs a majority without the failed region, so at least 3 regions; set \"automatic\": false or add a region"))
            }
            if !(failover.unreachableAfterMs >= 100 && failover.unreachableAfterMs <= 3_600_000) {
                problems.append(.init(.badFailover, "failover: unreachableAfterMs \(failover.unreachableAfterMs) must be from 100 to 3600000 (default 2000)"))
            }
            let slowest = topology.links.map(\.rttMs).max() ?? 0
            if slowest / 2 >= failover.unreachableAfterMs * 5 / 16 {
                problems.append(.init(.badFailover, "failover: unreachableAfterMs \(failover.unreachableAfterMs) is too short for a link of \(slowest) ms round trip (the one-way delay must stay under 5/16 of it); raise it"))
            }
        }

        for (i, first) in listeners.enumerated() {
            for second in listeners[(i + 1)...] where first.address.collides(with: second.address) {
                problems.append(.init(.duplicatePort, "port \(first.address.port) is used twice: by \(first.owner) (\(first.address)) and by \(second.owner) (\(second.address)); give one of them another port"))
            }
        }
        return problems
    }

    /// Keys of a settings file that must be numbers when present.
    private static let numericSettings = [
        "nodes", "maxSendBytes", "retentionDays", "maxQueuedPerDevice", "maxGroupMembers", "maxDevicesPerUser",
        "deliveryWindow", "sendBurst", "sendsPerSecond", "requestBurst", "requestsPerSecond",
        "keyFetchBurst", "keyFetchesPerSecond", "typingBurst", "typingPerSecond",
    ]

    private static func checkSettings(
        region: Topology.Region, label: String, replicated: Bool, read: (String) throws -> Data,
        problems: inout [TopologyProblem], listeners: inout [(address: TopologyAddress, owner: String)]
    ) {
        let file = region.settings
        let data: Data
        do {
            data = try read(file)
        } catch {
            problems.append(.init(.badSettings, "\(label): settings file \(file) cannot be read; create it (copy regions/local.json) or fix the path"))
            return
        }
        guard let settings = try? JSONDecoder().decode([String: SettingValue].self, from: data) else {
            problems.append(.init(.badSettings, "\(label): settings file \(file) is not a JSON object; fix its syntax"))
            return
        }
        if case .string(let name)? = settings["name"] {
            if name != region.name {
                problems.append(.init(.badSettings, "\(file): \"name\" is \"\(name)\" but the region is \(region.name); make them equal"))
            }
        } else {
            problems.append(.init(.badSettings, "\(file): \"name\" is missing or not a string; set it to \"\(region.name)\""))
        }
        for key in numericSettings {
            if let value = settings[key], case .number = value {} else if settings[key] != nil {
                problems.append(.init(.badSettings, "\(file): \"\(key)\" must be a number"))
            }
        }
        var nodes = 1
        if case .number(let number)? = settings["nodes"] {
            if number >= 1, number <= 64, number == number.rounded() {
                nodes = Int(number)
            } else {
                problems.append(.init(.badSettings, "\(file): \"nodes\" is \(number); it must be a whole number from 1 to 64"))
            }
        }
        // The other regions learn a region's nodes from topology.json alone (decision 0027).
        if let listed = region.nodes {
            if settings["nodes"] != nil, listed != nodes {
                problems.append(.init(.badSettings, "\(file): \"nodes\" is \(nodes) but topology.json gives \(label) \(listed); make them equal (or leave it out of \(file))"))
            }
            nodes = region.nodeCount
        } else if nodes > 1, replicated {
            problems.append(.init(.badSettings, "\(file): \"nodes\" is \(nodes) but topology.json does not say so; add \"nodes\": \(nodes) to \(label)'s entry there, so that other regions reach every node"))
        }
        let clustered = settings["redisCluster"] != nil
        if clustered { checkCluster(settings["redisCluster"], file: file, problems: &problems, listeners: &listeners) }
        for key in ["mqtt", "redis"] {
            // With a cluster, "redis" is not used by the relay (scripts may still name it).
            if key == "redis", clustered, settings[key] == nil { continue }
            guard case .string(let text)? = settings[key] else {
                problems.append(.init(.badSettings, "\(file): \"\(key)\" is missing or not a string; give it as HOST:PORT"))
                continue
            }
            guard let parsed = TopologyAddress(text) else {
                problems.append(.init(.badAddress, "\(file): \"\(key)\" \"\(text)\" is not HOST:PORT with a port in 1-65535; write it like 127.0.0.1:6390"))
                continue
            }
            if key == "redis" {
                listeners.append((parsed, "\(file) redis"))
            } else {
                if let devices = TopologyAddress(region.devices), devices != parsed {
                    problems.append(.init(.badSettings, "\(file): \"mqtt\" is \(parsed) but topology.json says \(label) devices connect to \(devices); make them equal"))
                }
                // Node 0 listens on the devices endpoint itself; nodes 1... on the next ports.
                for node in 1..<max(nodes, 1) where parsed.port + node <= 65_535 {
                    var next = parsed
                    next.port += node
                    listeners.append((next, "\(file) relay node \(node)"))
                }
            }
        }
    }

    /// `redisCluster`: the nodes (HOST:PORT) of the region's Redis Cluster,
    /// each a listener of its own (decision 0023).
    private static func checkCluster(
        _ value: SettingValue?, file: String,
        problems: inout [TopologyProblem], listeners: inout [(address: TopologyAddress, owner: String)]
    ) {
        guard case .strings(let nodes)? = value, !nodes.isEmpty else {
            problems.append(.init(.badSettings, "\(file): \"redisCluster\" must be a list of the cluster's nodes as HOST:PORT strings, e.g. [\"127.0.0.1:7000\", \"127.0.0.1:7001\", ...]; leave it out for one Redis"))
            return
        }
        for (index, text) in nodes.enumerated() {
            guard let parsed = TopologyAddress(text) else {
                problems.append(.init(.badAddress, "\(file): \"redisCluster\" node \"\(text)\" is not HOST:PORT with a port in 1-65535; write it like 127.0.0.1:7000"))
                continue
            }
            listeners.append((parsed, "\(file) redis cluster node \(index)"))
        }
    }

    /// One value of a settings file, as far as the check cares.
    private enum SettingValue: Decodable, Equatable {
        case string(String), number(Double), bool(Bool), strings([String]), other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let value = try? c.decode([String].self) {
                self = .strings(value)
            } else if let value = try? c.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? c.decode(Double.self) {
                self = .number(value)
            } else if let value = try? c.decode(String.self) {
                self = .string(value)
            } else {
                self = .other
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? context.debugDescription : "at \(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
