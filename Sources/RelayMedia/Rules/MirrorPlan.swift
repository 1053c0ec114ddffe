import RelayCore

/// Where a complete blob's copy goes and whether its upload waits for it
/// (docs/media.md, "Across regions"; decision 0025). The same rule as the
/// queues' mirror (``RegionMap/mirrorTarget(forHome:)``): a blob of this
/// region's own users goes to its standby; a blob uploaded here for a
/// failed-over home goes back to that home. A copy is only sent to a region
/// serving itself: one failed over is down (its blobs wait on disk for its
/// failback and the next sweep).
public enum MirrorPlan {
    /// The region that should hold a copy of a blob of `home` kept here,
    /// now; nil when there is none or it cannot take one yet.
    public static func target(home: String, map: RegionMap) -> String? {
        guard let target = map.mirrorTarget(forHome: home), target != map.local,
              map.servingRegion(of: target) == target
        else { return nil }
        return target
    }

    /// Whether completing an upload of `home`'s blob waits for its copy:
    /// in sync mode, for this region's own users while it serves itself and
    /// its standby serves itself (the rule of the queues' sync mirroring;
    /// otherwise no upload could complete during a failover).
    public static func waits(home: String, map: RegionMap, sync: Bool) -> Bool {
        guard sync, home == map.local, map.servesHere(home) else { return false }
        return target(home: home, map: map) != nil
    }

    /// How long an upload's completion waits for the copy of `length`
    /// bytes: 5 s plus 1 s per 4 MiB (a 100 MiB blob: 30 s), so that a
    /// slow but working link is not refused while a lost standby is.
    public static func deadline(length: UInt64) -> Duration {
        .seconds(5 + Int64(clamping: length / (4 * 1024 * 1024)))
    }
}
