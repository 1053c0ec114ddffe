import NIOCore
import RelayTopology

extension RegionSettings {
    /// The chat limits these settings give.
    package var chat: ChatConfiguration {
        var c = ChatConfiguration()
        c.region = name
        if let maxSendBytes { c.maximumSendBytes = maxSendBytes }
        if let retentionDays { c.retentionSeconds = retentionDays * 24 * 3600 }
        if let maxQueuedPerDevice { c.maximumQueuedPerDevice = maxQueuedPerDevice }
        if let maxGroupMembers { c.maximumGroupMembers = maxGroupMembers }
        if let maxDevicesPerUser { c.maximumDevicesPerUser = maxDevicesPerUser }
        if let deliveryWindow { c.deliveryWindow = deliveryWindow }
        if let sendBurst { c.sendBurst = sendBurst }
        if let sendsPerSecond { c.sendsPerSecond = sendsPerSecond }
        if let requestBurst { c.requestBurst = requestBurst }
        if let requestsPerSecond { c.requestsPerSecond = requestsPerSecond }
        if let keyFetchBurst { c.keyFetchBurst = keyFetchBurst }
        if let keyFetchesPerSecond { c.keyFetchesPerSecond = keyFetchesPerSecond }
        if let typingBurst { c.typingBurst = typingBurst }
        if let typingPerSecond { c.typingPerSecond = typingPerSecond }
        return c
    }
}

extension RegionSettings {
    /// How long queue mirror frames are held in async mode (default 100 ms; decision 0033).
    package var mirrorGather: TimeAmount {
        .milliseconds(Int64(mirrorGatherMs ?? 100))
    }
}
