/// Where a device's send goes in a multi-region deployment, and what its
/// acknowledgement waits for (docs/replication.md): the pure decision the
/// relay's send path takes before any I/O.
public enum SendRoute: Sendable, Equatable {
    /// This region sequences it (it serves the conversation's home).
    case sequenceHere(home: String)
    /// The region serving the home sequences it; in sync mode a copy goes
    /// to `standbyCopy` (this region's standby) and the PUBACK waits for it.
    case forward(to: String, standbyCopy: String?)
    /// Refused: an error code of the chat protocol and a message.
    case refuse(code: ErrorCode, message: String)

    /// The route of `user`'s send into `conversation` (a group when
    /// `isGroup`) whose home is `home` (nil: not known here), seen by
    /// `map`'s region mirroring in `sync` mode or not.
    public static func of(user: String, conversation: String, isGroup: Bool, home: String?, map: RegionMap, sync: Bool) -> SendRoute {
        guard let home else {
            // A group this region does not know has no member here; a 1:1 with a user
            // whose region's directory has not reached this one yet may come to be.
            return isGroup
                ? .refuse(code: .notMember, message: "\(user) is not in \(conversation)")
                : .refuse(code: .notFound, message: "conversation \(conversation) is not known in region \(map.local) (yet)")
        }
        guard let serving = map.servingRegion(of: home) else {
            return .refuse(code: .unavailable, message: "region \(home) is failing back; retry shortly")
        }
        if serving == map.local { return .sequenceHere(home: home) }
        var copy: String?
        if sync, let standby = map.mirrorTarget(forHome: map.local), standby != serving, standby != map.local {
            copy = standby
        }
        return .forward(to: serving, standbyCopy: copy)
    }
}
