/// One link of this region to a peer, as this node sees it.
public struct ReplicationLinkState: Sendable, Equatable, Codable {
    /// The peer region.
    public var peer: String
    /// Where the shipper connects (the link's delay proxy, or the peer's listener).
    public var address: String
    /// True while this node's shipper is connected to the peer.
    public var connected: Bool
    /// True while this node holds the region's lease to ship this link.
    public var shipping: Bool
    /// The highest id the peer acknowledged.
    public var acknowledged: UInt64
    /// The last id this node shipped (0 before its first batch).
    public var lastShipped: UInt64
    /// Frames appended and not yet acknowledged.
    public var frames: UInt64
    /// Age of the oldest unacknowledged frame, in ms (0 when none).
    public var lagMs: Int64
    /// Why the last attempt failed, if it did.
    public var lastError: String?
    /// Bytes of the frames held.
    public var bytes: UInt64
    /// Set while the link is broken at the outbox's cap (decision 0015).
    public var broken: OutboxBreak?
    /// Batches in flight now, and the most this node had in flight at once.
    public var batchesInFlight: Int
    public var peakBatchesInFlight: Int
    /// The window (bytes that may be in flight) and the measured
    /// bandwidth-delay product it follows (nil before a sample).
    public var windowBytes: Int
    public var bandwidthDelayProduct: Int?

    /// A state with every field given.
    public init(peer: String, address: String, connected: Bool, shipping: Bool, acknowledged: UInt64,
                lastShipped: UInt64, frames: UInt64, lagMs: Int64, lastError: String? = nil, bytes: UInt64 = 0,
                broken: OutboxBreak? = nil, batchesInFlight: Int = 0, peakBatchesInFlight: Int = 0,
                windowBytes: Int = 0, bandwidthDelayProduct: Int? = nil) {
        self.bytes = bytes
        self.broken = broken
        self.batchesInFlight = batchesInFlight
        self.peakBatchesInFlight = peakBatchesInFlight
        self.windowBytes = windowBytes
        self.bandwidthDelayProduct = bandwidthDelayProduct
        self.peer = peer
        self.address = address
        self.connected = connected
        self.shipping = shipping
        self.acknowledged = acknowledged
        self.lastShipped = lastShipped
        self.frames = frames
        self.lagMs = lagMs
        self.lastError = lastError
    }
}
