/// Heartbeats between regions on the peer listener (automatic failover,
/// decision 0018): region R publishes ``Relay_V1_Heartbeat`` on `hb/<R>`
/// (QoS 1); the PUBACK carries the receiver's region states (user property
/// `regions`, as for batches) and whether it grants R the write lease
/// (user property `lease`, "1" or "0").
public enum HeartbeatTopic {
    /// The heartbeat topic of region `origin`.
    public static func topic(origin: String) -> String { "hb/\(origin)" }

    /// The region named by a heartbeat topic, or nil when it is not `hb/<R>`.
    public static func origin(ofTopic topic: String) -> String? {
        guard topic.hasPrefix("hb/") else { return nil }
        let origin = topic.dropFirst(3)
        guard !origin.isEmpty, !origin.contains("/") else { return nil }
        return String(origin)
    }

    /// The PUBACK user property saying whether the lease is granted.
    public static let leaseProperty = "lease"
}
