/// A Pub/Sub channel and its kind.
///
/// **Classic** channels (`SUBSCRIBE`, `PUBLISH`) reach every subscriber of
/// the deployment; on a Redis Cluster every `PUBLISH` is broadcast to every
/// node over the cluster bus, so their cost grows with the cluster. They
/// suit rare, deployment-wide notices.
///
/// **Sharded** channels (`SSUBSCRIBE`, `SPUBLISH`, Redis 7) live in the hash
/// slot of their name, as keys do: on a cluster a message stays on the
/// shard of its slot, a subscriber subscribes on that shard's master, and
/// `SPUBLISH`'s answer counts exactly the subscribers. A channel named like
/// the hash tag of some keys (`d:<device>` for `{d:<device>}:...`) shares
/// their slot, so a Lua script that writes those keys may `SPUBLISH` to it.
/// On one Redis they behave like classic channels of their own namespace.
public struct PubSubChannel: Hashable, Sendable, CustomStringConvertible {
    /// The channel's name.
    public var name: String
    /// Whether it is a sharded channel.
    public var isSharded: Bool

    /// A classic channel.
    public static func classic(_ name: String) -> PubSubChannel { PubSubChannel(name: name, isSharded: false) }
    /// A sharded channel.
    public static func sharded(_ name: String) -> PubSubChannel { PubSubChannel(name: name, isSharded: true) }

    /// The channel's hash slot (where a sharded channel lives on a cluster).
    public var slot: HashSlot { HashSlot(key: self.name) }

    /// The command that subscribes to it.
    var subscribeCommand: String { self.isSharded ? "SSUBSCRIBE" : "SUBSCRIBE" }
    /// The command that unsubscribes from it.
    var unsubscribeCommand: String { self.isSharded ? "SUNSUBSCRIBE" : "UNSUBSCRIBE" }

    /// `name`, prefixed with `s:` when sharded.
    public var description: String { self.isSharded ? "s:\(self.name)" : self.name }
}
