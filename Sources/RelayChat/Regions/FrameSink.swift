import NIOCore
import RelayCore
import RelayReplication

/// Where the chat side puts frames for other regions: the durable outboxes
/// of the replication stream (``ReplicationService``).
protocol FrameSink: Sendable {
    /// Appends `frames` to the outbox for `peer`, in order; the ids they got.
    func append(_ frames: [Relay_V1_Frame], to peer: String, on loop: any EventLoop) -> EventLoopFuture<[UInt64]>
    /// Completes once `peer` acknowledged every frame up to `id`; fails
    /// after `timeout`.
    func waitUntilAcknowledged(peer: String, id: UInt64, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void>
    /// The id of the last frame appended for `peer` (0 before the first).
    func lastAppended(peer: String, on loop: any EventLoop) -> EventLoopFuture<UInt64>
    /// Up to `limit` frames for `peer` not acknowledged yet, after frame
    /// `after` (0: from the oldest), in order.
    func pending(peer: String, after: UInt64, limit: Int, on loop: any EventLoop) -> EventLoopFuture<[OutboxEntry]>
}
