import RelayCore

/// Limits and timings of the chat relay in one region.
public struct ChatConfiguration: Sendable {
    /// This region's name (the home it records for new conversations).
    public var region: String = "local"
    /// Largest `Send` payload accepted, in bytes.
    public var maximumSendBytes: Int = 64 * 1024
    /// RelayCore's limits for validating a `Send` (at least 1 byte).
    var sendLimits: SendLimits { SendLimits(maximumSendBytes: max(1, maximumSendBytes)) }
    /// How long the conversation log keeps a message, in seconds (30 days).
    public var retentionSeconds: Int = 30 * 24 * 3600
    /// How long a client message id is remembered for deduplication, in seconds.
    public var dedupSeconds: Int = 7 * 24 * 3600
    /// Entries a device queue holds at most; past it the oldest are dropped
    /// and the device is told (`QueueOverflow`).
    public var maximumQueuedPerDevice: Int = 10_000
    /// Members a group holds at most.
    public var maximumGroupMembers: Int = 1024
    /// Devices a user may have.
    public var maximumDevicesPerUser: Int = 6
    /// Deliveries in flight to one device (sent, not yet acknowledged).
    public var deliveryWindow: Int = 32
    /// Sends per device: bucket capacity and refill per second.
    public var sendBurst: Int = 50
    public var sendsPerSecond: Double = 20
    /// Requests (`q/`) per device other than `keys.fetch`: bucket capacity
    /// and refill per second.
    public var requestBurst: Int = 20
    public var requestsPerSecond: Double = 5
    /// `keys.fetch` requests per device (each may use up a one-time prekey of
    /// every device of a user, so stricter): capacity and refill per second.
    public var keyFetchBurst: Int = 10
    public var keyFetchesPerSecond: Double = 1
    /// Typing events per device: bucket capacity and refill per second.
    /// Past it they are dropped (they are best effort, QoS 0).
    public var typingBurst: Int = 5
    public var typingPerSecond: Double = 1
    /// One-time prekeys a single `keys.upload` may carry.
    public var maximumOneTimePrekeysPerUpload: Int = 200
    /// One-time prekeys kept per device; past it the oldest go.
    public var maximumOneTimePrekeysStored: Int = 1000
    /// A device is told (`PrekeysLow`) when fewer than this many one-time
    /// prekeys are left, once per crossing (until its next upload).
    public var prekeysLowThreshold: Int = 10

    public init() {}
}
