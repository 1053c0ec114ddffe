/// Limits and timings of the chat relay in one region.
public struct ChatConfiguration: Sendable {
    /// This region's name (the home it records for new conversations).
    public var region: String = "local"
    /// Largest `Send` payload accepted, in bytes.
    public var maximumSendBytes: Int = 64 * 1024
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

    public init() {}
}
