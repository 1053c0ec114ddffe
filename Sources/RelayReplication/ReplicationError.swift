/// A failure of the replication transport, with a stable kind and a
/// message for logs.
public struct ReplicationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: Sendable, Hashable {
        /// Redis answered something the transport did not expect.
        case redisReply
        /// A batch could not be decoded, or its frames are not consecutive.
        case invalidBatch
        /// The peer refused a batch (its PUBACK had a failure reason code).
        case refused
        /// The peer listener refused the shipper's CONNECT.
        case connectRefused
        /// `waitUntilAcknowledged` gave up.
        case timedOut
        /// No shipper exists for that peer (not in the topology).
        case unknownPeer
        /// The service or shipper was shut down.
        case shutdown
        /// A batch starts after frames the receiver has not applied yet
        /// and the origin still holds (an earlier batch was refused).
        case gap
        /// The outbox reached its cap and the link is broken until reset.
        case linkBroken
        /// Another node of the receiving region holds the lease on the
        /// origin's frames (``ReplicationKey/inboundLease(_:)``).
        case busy
    }

    /// The kind.
    public var kind: Kind
    /// Details for logs.
    public var message: String

    /// An error of `kind`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}
