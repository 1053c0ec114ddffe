import Foundation
import MetricsScrape
import RelayCore
import RelayLinkEmulator
import RelayTopology

/// The deployment as the console page shows it: each region (up, ready,
/// who serves it, its term, fenced or not, sessions, sends per second) and
/// each link (its RTT setting, cut or healed, and per direction the
/// replication lag and outbox depth). Built by `build` from what the
/// regions' endpoints, their Redis and the delay proxies answered; pure.
package struct DeploymentView: Sendable, Codable, Equatable {
    /// One region.
    package struct Region: Sendable, Codable, Equatable {
        package var name: String
        /// The device (MQTT) endpoint.
        package var devices: String
        /// The operability endpoint.
        package var http: String
        package var standby: String?
        /// Its `/metrics` answered.
        package var up: Bool
        /// What its `/readyz` said (nil: no answer).
        package var ready: Bool?
        /// The region serving its devices and conversations.
        package var servedBy: String
        package var term: UInt32
        /// No region serves it (a failback is draining).
        package var fenced: Bool
        /// Connected MQTT sessions (`relay_sessions`, all protocols).
        package var sessions: Int?
        /// Chat sends accepted per second since the previous reading (`relay_sends_accepted_total`).
        package var sendsPerSecond: Double?
        /// `relay_region_lease_held` (automatic failover), when reported.
        package var leaseHeld: Bool?
    }

    /// One direction of a link: `from`'s outbox towards `to`.
    package struct Direction: Sendable, Codable, Equatable {
        package var from: String
        package var to: String
        /// Age of the oldest unacknowledged frame, ms (nil: `from` did not answer).
        package var lagMs: Double?
        /// Frames not yet acknowledged.
        package var outboxFrames: Double?
    }

    /// One delay proxy of a link.
    package struct Proxy: Sendable, Codable, Equatable {
        /// The region it forwards towards.
        package var to: String
        /// Its control address.
        package var control: String
        /// What its `status` answered (nil: no answer).
        package var status: LinkStatus?
    }

    /// Whether a link's proxies let connections through.
    package enum LinkState: String, Sendable, Codable, Equatable {
        case healed, cut, unknown
    }

    /// One link between two regions.
    package struct Link: Sendable, Codable, Equatable {
        /// The two regions, in the topology's order.
        package var between: [String]
        /// The RTT set in the topology, ms.
        package var rttMs: Double
        /// The RTT the proxies apply now (`relayctl link set` changes it), when they answered.
        package var currentRttMs: Double?
        /// Cut when any of its proxies is cut; unknown when none answered.
        package var state: LinkState
        package var proxies: [Proxy]
        /// Each way.
        package var directions: [Direction]
    }

    package var regions: [Region]
    package var links: [Link]
    /// When it was read, ms since 1970.
    package var atMs: Double

    /// What one region's endpoints answered.
    package struct RegionReading: Sendable {
        /// Its `/metrics` text, or nil when it did not answer.
        package var metrics: String?
        /// Its `/readyz` body, or nil when it did not answer.
        package var readiness: String?

        /// A reading of `metrics` and `readiness`.
        package init(metrics: String?, readiness: String?) {
            self.metrics = metrics
            self.readiness = readiness
        }
    }

    /// Counter values kept from one reading to the next, to compute rates.
    package struct Counters: Sendable, Equatable {
        /// Region → (`relay_sends_accepted_total`, ms since 1970).
        package var sends: [String: (total: Double, atMs: Double)] = [:]

        /// No readings yet.
        package init() {}

        package static func == (a: Counters, b: Counters) -> Bool {
            a.sends.count == b.sends.count && a.sends.allSatisfy { key, value in
                b.sends[key].map { $0.total == value.total && $0.atMs == value.atMs } ?? false
            }
        }
    }

    /// The view of `topology` from these answers: `readings` by region,
    /// `map` (the regions' merged authority, nil when no Redis answered),
    /// `proxies` by control address (nil: no answer), read at `nowMs`;
    /// rates against `previous`. Returns the counters for the next reading.
    package static func build(topology: Topology, readings: [String: RegionReading], map: RegionMap?,
                              proxies: [String: LinkStatus?], previous: Counters, nowMs: Double) -> (DeploymentView, Counters) {
        var counters = Counters()
        var regions: [Region] = []
        var lag: [String: [String: (lagMs: Double?, frames: Double?)]] = [:]
        for region in topology.regions {
            let reading = readings[region.name]
            let metrics = reading?.metrics
            let state = map?.state(of: region.name) ?? RegionMap.State(term: 0, servedBy: region.name)
            var view = Region(name: region.name, devices: region.devices, http: region.http, standby: region.standby,
                              up: metrics != nil, ready: reading?.readiness.flatMap(readiness),
                              servedBy: state.servedBy, term: state.term, fenced: state.fenced)
            if let metrics {
                view.sessions = Int(exactly: PrometheusText.samples(of: "relay_sessions", in: metrics).reduce(0) { $0 + $1.value }.rounded())
                let total = PrometheusText.samples(of: "relay_sends_accepted_total", in: metrics).reduce(0) { $0 + $1.value }
                counters.sends[region.name] = (total, nowMs)
                if let before = previous.sends[region.name], nowMs > before.atMs, total >= before.total {
                    view.sendsPerSecond = (total - before.total) / ((nowMs - before.atMs) / 1000)
                }
                view.leaseHeld = PrometheusText.maximum(of: "relay_region_lease_held", in: metrics).map { $0 >= 1 }
                var byPeer: [String: (lagMs: Double?, frames: Double?)] = [:]
                for sample in PrometheusText.samples(of: "relay_replication_lag_seconds", in: metrics) {
                    guard let peer = sample.labels["peer"], sample.value.isFinite else { continue }
                    byPeer[peer, default: (nil, nil)].lagMs = sample.value * 1000
                }
                for sample in PrometheusText.samples(of: "relay_replication_outbox_frames", in: metrics) {
                    guard let peer = sample.labels["peer"], sample.value.isFinite else { continue }
                    byPeer[peer, default: (nil, nil)].frames = sample.value
                }
                lag[region.name] = byPeer
            }
            regions.append(view)
        }
        let links = topology.links.map { link -> Link in
            let proxies = link.proxies.map { proxy in
                Proxy(to: proxy.to, control: proxy.control, status: proxies[proxy.control] ?? nil)
            }
            let answered = proxies.compactMap(\.status)
            let state: LinkState = answered.isEmpty ? .unknown : (answered.contains(where: \.cut) ? .cut : .healed)
            var directions: [Direction] = []
            if link.between.count == 2 {
                for (from, to) in [(link.between[0], link.between[1]), (link.between[1], link.between[0])] {
                    let reading = lag[from]
                    // A region that answered but reports no outbox towards `to` has nothing waiting.
                    let value = reading.map { $0[to] ?? (0, 0) }
                    directions.append(Direction(from: from, to: to, lagMs: value?.lagMs ?? (reading == nil ? nil : 0),
                                                outboxFrames: value?.frames ?? (reading == nil ? nil : 0)))
                }
            }
            return Link(between: link.between, rttMs: link.rttMs, currentRttMs: answered.map(\.rttMs).max(),
                        state: state, proxies: proxies, directions: directions)
        }
        return (DeploymentView(regions: regions, links: links, atMs: nowMs), counters)
    }

    /// `ready` of a `/readyz` body (`{"ready":true,"checks":{…}}`), nil when it is not that.
    static func readiness(_ body: String) -> Bool? {
        struct Body: Decodable { var ready: Bool }
        return (try? JSONDecoder().decode(Body.self, from: Data(body.utf8)))?.ready
    }
}
