import ArgumentParser

/// How a region mirrors its device queues to its standby.
package enum MirrorMode: String, Sendable, Codable, CaseIterable {
    /// The PUBACK does not wait for the standby: a failover loses at most
    /// what the mirror lagged behind.
    case async
    /// A send's PUBACK waits until the standby has it: a failover loses no
    /// acknowledged send, and sends wait (then fail) while the standby is away.
    case sync
}

extension MirrorMode: ExpressibleByArgument {}
