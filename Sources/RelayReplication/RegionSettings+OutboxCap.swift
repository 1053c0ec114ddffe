import RelayTopology

extension RegionSettings {
    /// The cap on each outbox these settings give.
    package var outboxCap: OutboxCap {
        OutboxCap(maximumFrames: outboxMaxFrames ?? OutboxCap.defaultFrames,
                  maximumBytes: outboxMaxBytes ?? OutboxCap.defaultBytes)
    }
}
