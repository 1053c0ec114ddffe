import Foundation
import RelayCore
import RelayOps

/// Failing a region over to its standby and back, over `RegionControl`:
/// what `relayctl failover` and `relayctl failback` do, and what the
/// failover drill does in their place.
package enum RegionFailover {
    package struct FailoverOutcome: Encodable, SortedJSON {
        package var region: String
        package var servedBy: String
        package var term: UInt32
        package var reached: [String]
        package var unreached: [String]

        package var text: String {
            var line = "\(region) failed over to \(servedBy) (term \(term)); told \(reached.joined(separator: ", "))"
            if !unreached.isEmpty { line += "; not reachable (they learn from their peers): \(unreached.joined(separator: ", "))" }
            return line
        }

    }

    package static func failover(_ region: String, control: RegionControl) async throws -> FailoverOutcome {
        guard let info = control.topology.region(named: region) else {
            throw RelayCtlError("no region \(region) in the topology (regions: \(control.topology.regions.map(\.name).joined(separator: ", ")))")
        }
        guard let standby = info.standby else { throw RelayCtlError("region \(region) has no standby in the topology") }
        let (map, reachable, _) = await control.mergedMap()
        guard reachable.contains(standby) else {
            throw RelayCtlError("the standby \(standby) does not answer: it cannot take over \(region)")
        }
        guard let state = map.failover(region) else {
            let current = map.state(of: region)
            throw RelayCtlError("\(region) is not serving itself (served by \(current.servedBy), term \(current.term)\(current.fenced ? ", fenced" : "")): fail it back first")
        }
        let reached = await control.publish(state, of: region)
        guard reached.contains(standby) else { throw RelayCtlError("could not write the new state to the standby \(standby)") }
        return FailoverOutcome(region: region, servedBy: standby, term: state.term, reached: reached,
                               unreached: control.regions.map(\.name).filter { !reached.contains($0) })
    }

    package struct FailbackOutcome: Encodable, SortedJSON {
        package var region: String
        package var servedBy: String
        package var term: UInt32
        package var drainedFrames: UInt64
        package var catchUpMs: Int

    }

    package static func failback(_ region: String, control: RegionControl, timeout: Double) async throws -> FailbackOutcome {
        guard control.topology.region(named: region) != nil else { throw RelayCtlError("no region \(region) in the topology") }
        let (map, reachable, _) = await control.mergedMap()
        guard reachable.contains(region) else { throw RelayCtlError("\(region) does not answer: start it (scripts/up) before failing it back") }
        let current = map.state(of: region)
        // The standby that served it: from the current state, or (resuming an interrupted failback) the topology.
        let standby = current.servedBy != region ? current.servedBy : (control.topology.region(named: region)?.standby ?? region)
        var fenced = map
        if let fence = map.failbackFence(region) {
            _ = await control.publish(fence, of: region)
            fenced.merge([region: fence])
        } else if !current.fenced {
            throw RelayCtlError("\(region) is not failed over (it serves itself, term \(current.term))")
        }
        let start = Date()
        let initial = await control.backlog(from: standby, to: region) ?? 0
        while true {
            let backlog = await control.backlog(from: standby, to: region)
            if backlog == 0 { break }
            if Date().timeIntervalSince(start) > timeout {
                throw RelayCtlError("\(region) has not caught up with \(standby) after \(Int(timeout)) s (\(backlog.map { "\($0) frames behind" } ?? "\(standby) does not answer")); it stays fenced: run failback again")
            }
            try await Task.sleep(for: .milliseconds(50))  // polling another process's Redis: there is no event to await
        }
        guard let resume = fenced.failbackResume(region) else { throw RelayCtlError("\(region) is in an unexpected state") }
        _ = await control.publish(resume, of: region)
        return FailbackOutcome(region: region, servedBy: standby, term: resume.term, drainedFrames: initial, catchUpMs: Int(Date().timeIntervalSince(start) * 1000))
    }
}
