import NIOCore
import RelayOps

/// `/readyz` check "regions": not ready until the region heard a peer's view
/// of region states (it takes no device before that), nor without its write
/// lease (automatic failover: cut off from a majority), nor while it does
/// not serve its own devices (failed over, or fenced during a failback).
package struct RegionReadiness: ReadinessCheck {
    let authority: RegionAuthority
    let local: String

    /// A check of `authority`'s view, for the region `local`.
    package init(authority: RegionAuthority, local: String) {
        self.authority = authority
        self.local = local
    }

    package var name: String { "regions" }

    package func check(on eventLoop: any EventLoop) -> EventLoopFuture<ReadinessResult> {
        guard authority.isSettled else {
            return eventLoop.makeSucceededFuture(.notReady("waiting to hear another region's view of who serves whom"))
        }
        guard authority.isWritable else {
            return eventLoop.makeSucceededFuture(.notReady("no write lease: a majority of the regions does not answer (automatic failover)"))
        }
        let map = authority.current
        let state = map.state(of: local)
        guard map.servesHere(local) else {
            let by = state.fenced ? "nobody (fenced, failing back)" : state.servedBy
            return eventLoop.makeSucceededFuture(.notReady("\(local) is served by \(by) (term \(state.term))"))
        }
        return eventLoop.makeSucceededFuture(.ready("serving \(local) (term \(state.term))"))
    }
}
