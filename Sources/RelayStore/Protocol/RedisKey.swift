/// Key names, each built around a hash tag.
///
/// All keys of one conversation share the hash tag `{c:<id>}`, all keys of
/// one device `{d:<id>}`, all keys of one user `{u:<id>}`. Redis Cluster
/// places keys by the hash of their tag only, so one Lua script may touch
/// every key of one conversation (or device, or user) and still run on a
/// cluster. A script must not mix keys of two tags.
///
/// Identifiers must not contain `{` or `}`, which would change the tag.
public enum RedisKey {
    /// The hash tag of conversation `id`: `{c:<id>}`.
    public static func conversationTag(_ id: String) -> String { tag("c", id) }
    /// The hash tag of device `id`: `{d:<id>}`.
    public static func deviceTag(_ id: String) -> String { tag("d", id) }
    /// The hash tag of user `id`: `{u:<id>}`.
    public static func userTag(_ id: String) -> String { tag("u", id) }

    /// A key of conversation `id`: `{c:<id>}:<suffix>`.
    public static func conversation(_ id: String, _ suffix: String) -> String { "\(conversationTag(id)):\(suffix)" }
    /// A key of device `id`: `{d:<id>}:<suffix>`.
    public static func device(_ id: String, _ suffix: String) -> String { "\(deviceTag(id)):\(suffix)" }
    /// A key of user `id`: `{u:<id>}:<suffix>`.
    public static func user(_ id: String, _ suffix: String) -> String { "\(userTag(id)):\(suffix)" }

    /// The sequence counter of conversation `id`: `{c:<id>}:seq`.
    public static func conversationSequence(_ id: String) -> String { conversation(id, "seq") }
    /// The message log of conversation `id`: `{c:<id>}:log`.
    public static func conversationLog(_ id: String) -> String { conversation(id, "log") }
    /// The delivery queue of device `id`: `{d:<id>}:q`.
    public static func deviceQueue(_ id: String) -> String { device(id, "q") }
    /// The Pub/Sub channel that reaches the node holding device `id`'s
    /// connection: `{d:<id>}:ch`.
    public static func deviceChannel(_ id: String) -> String { device(id, "ch") }
    /// The set of devices of user `id`: `{u:<id>}:devices`.
    public static func userDevices(_ id: String) -> String { user(id, "devices") }

    private static func tag(_ kind: String, _ id: String) -> String {
        assert(!id.contains("{") && !id.contains("}"), "identifiers in Redis keys must not contain braces: \(id)")
        return "{\(kind):\(id)}"
    }
}
