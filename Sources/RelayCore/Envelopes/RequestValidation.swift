/// Checks the identifiers in a device's `Request` before any of them is used
/// as (part of) a store key: conversation ids, user ids and device ids must
/// each be valid, and lists of users are bounded. A request that fails gets
/// `Response.error` `bad_request` saying which field is wrong.
///
/// Bodies not named here carry no identifier (or are checked where they
/// are handled, e.g. the key material of `keys.upload`).
public enum RequestValidation {
    /// The most users one group request may name (a group's own cap applies too).
    public static let maximumUsers = 1024

    /// Throws ``InvalidRequest`` naming the field that is wrong.
    public static func validate(_ request: Relay_V1_Request) throws(InvalidRequest) {
        switch request.body {
        case .groupCreate(let create):
            try users(create.members, "group_create.members")
        case .groupAdd(let change), .groupRemove(let change), .groupAdmins(let change):
            try group(change.conversation)
            try users(change.users, "users")
        case .groupLeave(let leave):
            try group(leave.conversation)
        case .conversationSettings(let settings):
            try conversation(settings.conversation)
        case .keysFetch(let fetch):
            try user(fetch.user, "keys_fetch.user")
        case .historySync(let sync):
            try conversation(sync.conversation)
        case .presenceQuery(let query):
            try user(query.user, "presence_query.user")
        case .devicesRemove(let remove):
            try device(remove.device, "devices_remove.device")
        case .devicesLink(let link):
            try device(link.device, "devices_link.device")
        case .mediaUpload(let upload):
            guard upload.length > 0 else { throw InvalidRequest("media_upload.length must be at least 1") }
            guard MediaContentClass(rawValue: upload.contentClass) != nil else {
                throw InvalidRequest("media_upload.content_class \(String(reflecting: upload.contentClass)) is not one of \(MediaContentClass.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        case .mediaDownload(let download):
            guard MediaID(rawValue: download.id) != nil else { throw InvalidRequest("media_download.id \(String(reflecting: download.id)) is not 32 lowercase hex digits") }
            guard !download.region.isEmpty, download.region.utf8.count <= 64 else { throw InvalidRequest("media_download.region must name a region") }
        default:
            break
        }
    }

    private static func conversation(_ id: String) throws(InvalidRequest) {
        guard ConversationID(rawValue: id) != nil else {
            throw InvalidRequest("conversation \(String(reflecting: id)) is not a conversation id")
        }
    }

    private static func group(_ id: String) throws(InvalidRequest) {
        guard ConversationID(rawValue: id)?.isGroup == true else {
            throw InvalidRequest("conversation \(String(reflecting: id)) is not a group id")
        }
    }

    private static func user(_ id: String, _ field: String) throws(InvalidRequest) {
        guard UserID(rawValue: id) != nil else { throw InvalidRequest("\(field) \(String(reflecting: id)) is not a user id") }
    }

    private static func users(_ ids: [String], _ field: String) throws(InvalidRequest) {
        guard ids.count <= maximumUsers else { throw InvalidRequest("\(field) names \(ids.count) users; at most \(maximumUsers)") }
        for id in ids { try user(id, field) }
    }

    private static func device(_ id: String, _ field: String) throws(InvalidRequest) {
        guard DeviceID(rawValue: id) != nil else { throw InvalidRequest("\(field) \(String(reflecting: id)) is not a device id") }
    }
}

/// Why a `Request` cannot be handled: a field that is not a valid identifier.
public struct InvalidRequest: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field and what is wrong with it.
    public var description: String

    /// The reason `description`.
    public init(_ description: String) {
        self.description = description
    }
}
