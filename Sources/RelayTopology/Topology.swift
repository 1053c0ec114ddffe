import Foundation
import RelayCore

/// The deployment's shape, `topology.json`: its regions and the links between
/// them.
///
/// Decoding is lenient (a missing field becomes empty) so that
/// ``TopologyCheck`` can report every problem in one run instead of the first
/// one a decoder meets.
public struct Topology: Codable, Sendable, Equatable {
    /// Every region of the deployment, each named once.
    public var regions: [Region]
    /// The inter-region links; every two regions need exactly one.
    public var links: [Link]
    /// Automatic failover by majority (docs/replication.md); nil: regions
    /// fail over only by `relayctl failover`.
    public var failover: Failover?

    /// A topology of `regions` joined by `links`.
    public init(regions: [Region], links: [Link], failover: Failover? = nil) {
        self.regions = regions
        self.links = links
        self.failover = failover
    }

    /// Decodes `topology.json`; fields that are missing decode as empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        regions = try c.decodeIfPresent([Region].self, forKey: .regions) ?? []
        links = try c.decodeIfPresent([Link].self, forKey: .links) ?? []
        failover = try c.decodeIfPresent(Failover.self, forKey: .failover)
    }

    /// `"failover": {"automatic": true, "unreachableAfterMs": 2000}`: the
    /// regions watch each other and a region's standby takes it over when a
    /// majority has not heard from it for `unreachableAfterMs`.
    public struct Failover: Codable, Sendable, Equatable {
        /// Whether regions fail over (and back) without an operator.
        public var automatic: Bool
        /// How long without contact before a region counts as unreachable.
        public var unreachableAfterMs: Double

        /// Automatic failover after `unreachableAfterMs` (default 2 s).
        public init(automatic: Bool = true, unreachableAfterMs: Double = 2000) {
            self.automatic = automatic
            self.unreachableAfterMs = unreachableAfterMs
        }

        /// Decodes the object; a missing field takes its default.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            automatic = try c.decodeIfPresent(Bool.self, forKey: .automatic) ?? true
            unreachableAfterMs = try c.decodeIfPresent(Double.self, forKey: .unreachableAfterMs) ?? 2000
        }
    }

    /// The watch's timings and the regions whose failback is manual, when
    /// failover is automatic.
    public var watchConfiguration: RegionWatch.Configuration? {
        guard let failover, failover.automatic, failover.unreachableAfterMs.isFinite else { return nil }
        let manual = Set(regions.filter { $0.failback == Region.manualFailback }.map(\.name))
        let unreachableAfter = Int64(min(max(failover.unreachableAfterMs, 0), 3_600_000))
        return RegionWatch.Configuration(unreachableAfter: unreachableAfter, manualFailback: manual)
    }

    /// Reads and decodes the file at `path`.
    public static func load(path: String) throws -> Topology {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(Topology.self, from: data)
    }

    /// The region called `name`, if there is one.
    public func region(named name: String) -> Region? {
        regions.first { $0.name == name }
    }

    /// Each region's standby (nil: none), by region name.
    public var standbys: [String: String?] {
        Dictionary(regions.map { ($0.name, $0.standby) }, uniquingKeysWith: { first, _ in first })
    }

    /// The link between regions `a` and `b`, in either order.
    public func link(between a: String, and b: String) -> Link? {
        links.first { Set($0.between) == Set([a, b]) && $0.between.count == 2 }
    }

    /// One region: where its devices, its peers and HTTP clients connect, the
    /// region that takes over when it fails, and its process settings.
    public struct Region: Codable, Sendable, Equatable {
        /// The region's name, e.g. `us-east`.
        public var name: String
        /// Its process settings, `regions/<name>.json`, relative to the topology file's directory.
        public var settings: String
        /// `HOST:PORT` where devices connect over MQTT.
        public var devices: String
        /// `HOST:PORT` of the peer listener other regions' shippers connect to.
        public var peers: String
        /// `HOST:PORT` of the HTTP endpoint (health, lag, operator calls).
        public var http: String
        /// The region that takes over when this one fails over, or `nil`.
        public var standby: String?
        /// With automatic failover: `"automatic"` (nil) or `"manual"`
        /// (`relayctl failback` only) once the region is back.
        public var failback: String?
        /// The `failback` value that leaves the failback to the operator.
        public static let manualFailback = "manual"
        /// How many relay nodes serve the region (nil: one). Node `i`
        /// listens on the port `i` past each of `devices`, `peers` and
        /// `http` (``address(_:node:)``).
        public var nodes: Int?

        /// A region with every field given.
        public init(name: String, settings: String, devices: String, peers: String, http: String, standby: String?,
                    failback: String? = nil, nodes: Int? = nil) {
            self.name = name
            self.settings = settings
            self.devices = devices
            self.peers = peers
            self.http = http
            self.standby = standby
            self.failback = failback
            self.nodes = nodes
        }

        /// Decodes one region; missing strings decode as empty.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
            settings = try c.decodeIfPresent(String.self, forKey: .settings) ?? ""
            devices = try c.decodeIfPresent(String.self, forKey: .devices) ?? ""
            peers = try c.decodeIfPresent(String.self, forKey: .peers) ?? ""
            http = try c.decodeIfPresent(String.self, forKey: .http) ?? ""
            standby = try c.decodeIfPresent(String.self, forKey: .standby)
            failback = try c.decodeIfPresent(String.self, forKey: .failback)
            nodes = try c.decodeIfPresent(Int.self, forKey: .nodes)
        }
    }

    /// The network between two regions, as the delay proxies on it emulate it.
    ///
    /// A link carries two proxies, one per direction in which connections are
    /// opened: the one whose `to` is B listens for A's connections to B's peer
    /// endpoint, and forwards them there.
    public struct Link: Codable, Sendable, Equatable {
        /// The two regions the link joins.
        public var between: [String]
        /// Round-trip time in milliseconds (each direction is delayed by half).
        public var rttMs: Double
        /// Bandwidth of each direction in kbit/s.
        public var bandwidthKbps: Double
        /// Fraction of chunks that are "lost" (delayed as if retransmitted), 0 ≤ loss < 1.
        public var loss: Double
        /// The delay proxies of the link, one towards each of its regions.
        public var proxies: [Proxy]

        /// A link with every field given.
        public init(between: [String], rttMs: Double, bandwidthKbps: Double, loss: Double, proxies: [Proxy]) {
            self.between = between
            self.rttMs = rttMs
            self.bandwidthKbps = bandwidthKbps
            self.loss = loss
            self.proxies = proxies
        }

        /// Decodes one link; missing fields decode as empty or zero.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            between = try c.decodeIfPresent([String].self, forKey: .between) ?? []
            rttMs = try c.decodeIfPresent(Double.self, forKey: .rttMs) ?? 0
            bandwidthKbps = try c.decodeIfPresent(Double.self, forKey: .bandwidthKbps) ?? 0
            loss = try c.decodeIfPresent(Double.self, forKey: .loss) ?? 0
            proxies = try c.decodeIfPresent([Proxy].self, forKey: .proxies) ?? []
        }

        /// The link's name for messages, `us-east<->eu-west`.
        public var label: String { between.joined(separator: "<->") }
    }

    /// One delay proxy of a link: it listens on `listen`, forwards to the peer
    /// endpoint of region `to`, and takes commands on `control`.
    public struct Proxy: Codable, Sendable, Equatable {
        /// The region whose peer endpoint the proxy forwards to.
        public var to: String
        /// `HOST:PORT` the proxy listens on (the other region's shipper connects here).
        public var listen: String
        /// `HOST:PORT` of the proxy's control listener (`relayctl link cut|heal|set|status`).
        public var control: String

        /// A proxy with every field given.
        public init(to: String, listen: String, control: String) {
            self.to = to
            self.listen = listen
            self.control = control
        }

        /// Decodes one proxy; missing strings decode as empty.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            to = try c.decodeIfPresent(String.self, forKey: .to) ?? ""
            listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? ""
            control = try c.decodeIfPresent(String.self, forKey: .control) ?? ""
        }
    }
}

/// A parsed `HOST:PORT` of the topology (`[::1]:7000` for IPv6); Foundation only.
public struct TopologyAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address, without brackets.
    public var host: String
    /// TCP port, 1...65535.
    public var port: Int

    /// Parses `text`, or returns `nil` when it is not `HOST:PORT` with a port in 1...65535.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether two listeners on these addresses would collide: same port, and
    /// the same host or a wildcard host on either side.
    public func collides(with other: TopologyAddress) -> Bool {
        let wildcards: Set<String> = ["0.0.0.0", "::", "*"]
        return port == other.port && (host == other.host || wildcards.contains(host) || wildcards.contains(other.host))
    }
}
