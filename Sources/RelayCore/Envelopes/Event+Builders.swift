extension Relay_V1_Event {
    /// A membership change, for `d/<device>/e`.
    public static func membership(_ event: MembershipEvent) -> Relay_V1_Event {
        var out = Relay_V1_Event()
        out.membership = event.proto
        return out
    }

    /// `device` has only `remaining` one-time prekeys left.
    public static func prekeysLow(device: DeviceID, remaining: UInt32) -> Relay_V1_Event {
        var low = Relay_V1_PrekeysLow()
        low.device = device.rawValue
        low.remaining = remaining
        var out = Relay_V1_Event()
        out.prekeysLow = low
        return out
    }

    /// Another connection with the same device id took over the session.
    public static func sessionReplaced(device: DeviceID) -> Relay_V1_Event {
        var replaced = Relay_V1_SessionReplaced()
        replaced.device = device.rawValue
        var out = Relay_V1_Event()
        out.sessionReplaced = replaced
        return out
    }

    /// `dropped` messages or entries skipped because a device was over a
    /// cap of `cap` (docs/protocol.md): `policy` is `drop_oldest:messages`
    /// for a conversation's log (naming `conversation`) and
    /// `drop_oldest:entries` for the queue of statuses and events.
    public static func queueOverflow(dropped: UInt64, cap: Int, conversation: String? = nil) -> Relay_V1_Event {
        var overflow = Relay_V1_QueueOverflow()
        overflow.dropped = dropped
        if let conversation {
            overflow.policy = "drop_oldest:messages (\(conversation), at \(cap) behind)"
        } else {
            overflow.policy = "drop_oldest:entries (at \(cap) queued)"
        }
        var out = Relay_V1_Event()
        out.queueOverflow = overflow
        return out
    }

    /// `device` was removed from its user's devices.
    public static func deviceRemoved(device: DeviceID) -> Relay_V1_Event {
        var removed = Relay_V1_DeviceRemoved()
        removed.device = device.rawValue
        var out = Relay_V1_Event()
        out.deviceRemoved = removed
        return out
    }
}

extension Relay_V1_Response {
    /// The answer to request `requestID` refused with `refusal`.
    public static func failure(requestID: String, _ refusal: some RelayRefusal) -> Relay_V1_Response {
        var response = Relay_V1_Response()
        response.requestID = requestID
        response.error = Relay_V1_Error(refusal)
        return response
    }
}
