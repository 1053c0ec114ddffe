/// The request methods a device may name in `q/<method>` (docs/protocol.md,
/// "Requests").
public enum RequestMethod: String, CaseIterable, Hashable, Sendable {
    /// `GroupCreate` → `GroupInfo`.
    case groupCreate = "group.create"
    /// `GroupMembers` → `GroupInfo`.
    case groupAdd = "group.add"
    /// `GroupMembers` → `GroupInfo`.
    case groupRemove = "group.remove"
    /// `GroupMembers` → `GroupInfo`.
    case groupAdmins = "group.admins"
    /// `GroupLeave` → `Empty`.
    case groupLeave = "group.leave"
    /// `ConversationSettings` → `GroupInfo`.
    case conversationSettings = "conversation.settings"
    /// `KeysUpload` → `Empty`.
    case keysUpload = "keys.upload"
    /// `KeysFetch` → `KeyBundles`.
    case keysFetch = "keys.fetch"
    /// `HistorySync` → `History`.
    case historySync = "history.sync"
    /// `PresenceQuery` → `Presence`.
    case presenceGet = "presence.get"
    /// `PrivacySettings` → `Empty`.
    case privacySet = "privacy.set"
    /// `DevicesList` → `Devices`.
    case devicesList = "devices.list"
    /// `DevicesRemove` → `Devices`.
    case devicesRemove = "devices.remove"
    /// `DevicesLink` → `Devices`.
    case devicesLink = "devices.link"
    /// `PushRegister` → `Empty` (docs/push.md).
    case pushRegister = "push.register"
    /// `PushUnregister` → `Empty`.
    case pushUnregister = "push.unregister"
    /// `MediaUpload` → `MediaGrant` (docs/media.md).
    case mediaUpload = "media.upload"
    /// `MediaDownload` → `MediaGrant`.
    case mediaDownload = "media.download"
    /// `CompactDeliveries` → `CompactRefs` (docs/protocol.md, "Compact deliveries").
    case deliveriesCompact = "deliveries.compact"
}
