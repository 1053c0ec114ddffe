import NIOCore
import RelayOps

/// `/readyz` check "deadletters": how many frames and fan-outs are set aside
/// (`relayctl deadletter list` shows them). Always ready: a poison frame is
/// set aside precisely so that the region keeps serving; the count is there
/// for operators and probes to see.
package struct DeadLetterReadiness: ReadinessCheck {
    let deadLetters: DeadLetters

    /// A check of `deadLetters`.
    package init(deadLetters: DeadLetters) {
        self.deadLetters = deadLetters
    }

    package var name: String { "deadletters" }

    package func check(on eventLoop: any EventLoop) -> EventLoopFuture<ReadinessResult> {
        deadLetters.count(on: eventLoop).map { count in
            .ready(count == 0 ? "none set aside" : "\(count) set aside (relayctl deadletter list)")
        }
    }
}
